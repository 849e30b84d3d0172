package httpclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources/clienttls"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// TestGet: the body within the bound; a status, an oversized answer and a
// dead peer as errors that show neither the query nor user information.
func TestGet(t *testing.T) {
	srv := sourcetest.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("12345"))
		case "/denied":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		}
	}))
	c, err := NewClient("test", time.Second, clienttls.Params{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://user:pw-s3cret@"+srv.Addr()+path+"?key=k-s3cret", nil)
		return Get(context.Background(), c, req, 10)
	}
	if b, err := get("/ok"); err != nil || string(b) != "12345" {
		t.Fatalf("Get /ok = %q, %v", b, err)
	}
	_, err = get("/denied")
	var st *StatusError
	if !errors.As(err, &st) || !st.Refused() || st.Code != 401 {
		t.Fatalf("Get /denied = %v, want a refusal", err)
	}
	if _, err := get("/big"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get /big = %v, want ErrTooLarge", err)
	}
	srv.Stop()
	_, dead := get("/ok")
	if dead == nil {
		t.Fatal("Get from a stopped server succeeded")
	}
	for _, err := range []error{err, dead} {
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows a credential: %v", err)
		}
	}
}
