// Package mysql serves KEDA's mysql trigger: a scalar query (the first
// column of the first row, as a number) read on the shared schedule
// (sources.Scheduler) every pollingInterval, with KEDA's metadata keys,
// lookup orders and metric name ("s<index>-mysql-<dbName>"). MySQL and
// MariaDB push nothing a client can subscribe to (the binlog needs
// replication rights and a parser; triggers cannot reach a client), so
// every trigger reports PushHealthy=False NotSupported and is polled as
// KEDA polls it. Triggers with the same DSN share one connection pool;
// with the same query too, one read.
package mysql
