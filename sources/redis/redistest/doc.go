// Package redistest starts real Redis topologies for tests: a single
// server (StartServer), a Redis Cluster (StartCluster) and a master with
// replicas watched by Sentinels (StartSentinel).
//
// Every process is a redis-server or redis-sentinel from PATH (run
// `make deps`), listening on 127.0.0.1 only, on a free port other than
// 6379. Nothing is persisted (`--save "" --appendonly no`): a restarted
// server starts empty. Each topology keeps its files (logs, nodes.conf,
// sentinel.conf) in a temporary folder of its own.
//
// The Start functions take a testing.TB, fail it on error and stop their
// processes in tb.Cleanup, logging the last lines of each process's log
// when the test has failed. The New functions do the same without a
// testing.TB, for programs such as the benchmark: they return an error
// (with the end of the relevant log) and the caller must call Stop (Close
// for a Server).
//
// Children are started with Pdeathsig from one OS thread that lives as long
// as the test binary, so they die with it even when it is killed.
//
// TLS is not supported.
package redistest
