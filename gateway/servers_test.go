package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServersCutOffSlowClients: a client that declares a body and stalls
// is disconnected after the read timeout, and one that sends headers past
// the bound is refused (issue 10 item 1).
func TestServersCutOffSlowClients(t *testing.T) {
	for name, l := range map[string]serverLimits{"webhook": webhookLimits(Options{}), "others": defaultLimits} {
		if l.readHeader <= 0 || l.read <= 0 || l.write <= 0 || l.idle <= 0 || l.maxHeaderBytes <= 0 {
			t.Errorf("%s: a limit is unset: %+v", name, l)
		}
	}
	l := webhookLimits(Options{WebhookReadTimeout: 300 * time.Millisecond, WebhookMaxHeaderBytes: 1024})
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), l)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{\"value\":")
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.ReadAll(c) // returns when the server closes the connection
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a stalled body held the connection for %v, read timeout %v", d, l.read)
	}

	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 8<<10)+"\r\n\r\n")
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("headers over the bound: %d, want 431", resp.StatusCode)
	}
}
