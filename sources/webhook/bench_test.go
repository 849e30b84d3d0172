package webhook

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pushscale/pushscale/store"
)

// BenchmarkHandlerPost measures accepted events per second through the
// handler into a real store, from parallel clients, to one stream and
// spread over 1,000.
func BenchmarkHandlerPost(b *testing.B) {
	for _, streams := range []int{1, 1000} {
		for _, mode := range []string{"json", "cloudevent"} {
			b.Run(fmt.Sprintf("streams=%d/%s", streams, mode), func(b *testing.B) {
				benchmarkPost(b, streams, mode)
			})
		}
	}
}

func benchmarkPost(b *testing.B, streams int, mode string) {
	src := New(store.New(nil), Options{})
	paths := make([]string, streams)
	for i := range streams {
		name := "s" + strconv.Itoa(i)
		k := key(store.ScaledObject, "ns", name, 0)
		if err := src.Watch(trig(k, map[string]string{"stream": name}, nil)); err != nil {
			b.Fatal(err)
		}
		paths[i] = path("ns", name)
	}
	h := src.Handler()
	var next atomic.Int64
	var failed atomic.Int64 // the status of a refused request
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := strings.NewReader("")
		r, _ := http.NewRequest(http.MethodPost, "http://gateway", nil)
		w := &discardWriter{h: http.Header{}}
		i := int(next.Add(1))
		for pb.Next() {
			i++
			p := paths[i%streams]
			r.URL.Path = p
			r.RequestURI = p
			r.Header = http.Header{}
			switch mode {
			case "json":
				r.Header.Set("Content-Type", "application/json")
				body.Reset(`{"delta": 1}`)
			case "cloudevent":
				r.Header.Set("Content-Type", "application/cloudevents+json")
				body.Reset(`{"specversion":"1.0","id":"` + strconv.Itoa(i) + `","source":"/bench","type":"bench.event"}`)
			}
			r.Body = io.NopCloser(body)
			r.ContentLength = int64(body.Len())
			w.reset()
			h.ServeHTTP(w, r)
			if w.code != http.StatusAccepted {
				failed.Store(int64(w.code))
				return
			}
		}
	})
	if code := failed.Load(); code != 0 {
		b.Fatalf("a request was refused: status %d", code)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
}
func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
