package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// referenceName names the calibration run in the report.
const referenceName = "(ref) trivial 202 handler"

// referenceServer is a trivial stand-in for one webhook stream: POST reads
// the body, adds 1 to a counter and answers 202 with a body of the
// gateway's shape; GET answers the counter as {"value": n}. Driven by the
// same load generator, it shows what the generator and net/http cost by
// themselves on this machine: the ceiling of the method.
type referenceServer struct {
	count atomic.Int64
	srv   *http.Server
	done  chan error
	url   string
}

func startReference() (*referenceServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("reference server: %w", err)
	}
	r := &referenceServer{done: make(chan error, 1), url: "http://" + ln.Addr().String() + "/v1/namespaces/ref/streams/ref"}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

func (r *referenceServer) serve(w http.ResponseWriter, req *http.Request) {
	w.Header()["Content-Type"] = contentTypeJSON
	switch req.Method {
	case http.MethodPost:
		_, _ = io.Copy(io.Discard, req.Body)
		n := r.count.Add(1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"stream":"ref","value":` + strconv.FormatInt(n, 10) + "}\n"))
	case http.MethodGet:
		_, _ = w.Write([]byte(`{"stream":"ref","value":` + strconv.FormatInt(r.count.Load(), 10) + "}\n"))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// stop shuts the server down and waits for it.
func (r *referenceServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if serr := <-r.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// measureReference runs the load generator against a referenceServer.
func measureReference(ctx context.Context, e *env, cfg config) (*ThroughputResult, error) {
	ref, err := startReference()
	if err != nil {
		return nil, err
	}
	res, err := runLoad(ctx, e, loadSpec{name: referenceName, urls: []string{ref.url},
		conns: cfg.conns, warmup: cfg.warmup, window: cfg.duration, profile: cfg.profilePath("(ref)")})
	if serr := ref.stop(); serr != nil && err == nil {
		err = fmt.Errorf("reference server: %w", serr)
	}
	if res != nil {
		res.Reference = true
	}
	return res, err
}
