package main

import (
	"math"
	"testing"
)

const wrkSample = `Running 10s test @ http://127.0.0.1:41234/v1/namespaces/bench-ingest/streams/open
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.95ms    1.23ms  30.00ms   85.00%
    Req/Sec    11.00k     1.00k   13.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    3.50ms
     90%    4.20ms
     99%    1.20s
  220000 requests in 10.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 20
Requests/sec:  22000.00
Transfer/sec:      2.00MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 219980 || r.NonAccepted["non-2xx"] != 20 || r.TransportErrors != 3 {
		t.Errorf("accepted %d, non-2xx %d, transport errors %d", r.Accepted, r.NonAccepted["non-2xx"], r.TransportErrors)
	}
	if r.WindowS != 10 || math.Abs(r.RequestsPerS-22000*219980.0/220000) > 1e-6 {
		t.Errorf("window %g s, %g requests/s", r.WindowS, r.RequestsPerS)
	}
	if r.Latency.P50Ms != 0.812 || r.Latency.P90Ms != 4.2 || r.Latency.P99Ms != 1200 || r.Latency.N != 220000 {
		t.Errorf("latency %+v", r.Latency)
	}
	if _, err := parseWrk("wrk: connection refused"); err == nil {
		t.Error("output without a request count parsed")
	}
}
