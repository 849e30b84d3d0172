// Package clientgo routes client-go's process-wide hooks into a gateway
// run: the workqueue metrics provider (workqueue.go) and klog, through
// which client-go and the apiserver library log (klog.go).
//
// Both hooks are global to the process and client-go lets the workqueue
// provider be set only once, while gateway.Run may run several times in one
// process (tests restart it), each time with a fresh registry and maybe its
// own logger. So the workqueue metrics are one process-wide collector set,
// registered into each run's registry and handed to the run's queues as
// their provider (the process-wide default may belong to another package),
// and klog is pointed once at a forwarding logger whose target each run
// swaps in.
package clientgo
