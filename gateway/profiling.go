package gateway

import (
	"net/http/pprof"

	"github.com/go-chi/chi/v5"
)

// mountProfiling serves net/http/pprof's handlers on r under /debug/pprof/
// (Options.Profiling): /debug/pprof/heap?gc=1 is the heap after a
// collection, /debug/pprof/profile?seconds=N a CPU profile of the next N
// seconds (N below the metrics server's write timeout, 30 s). The package
// also registers them on http.DefaultServeMux, which the gateway never
// serves.
func mountProfiling(r chi.Router) {
	r.HandleFunc("/debug/pprof/", pprof.Index)
	r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	r.HandleFunc("/debug/pprof/profile", pprof.Profile)
	r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	r.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Named profiles (heap, goroutine, allocs, block, mutex, …): Index
	// serves each from the last path element.
	r.HandleFunc("/debug/pprof/{profile}", pprof.Index)
}
