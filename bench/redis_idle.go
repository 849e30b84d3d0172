package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
)

// RedisIdleResult is measurement 5: what idle ScaledObjects cost Redis.
type RedisIdleResult struct {
	Method string     `json:"method"`
	Runs   []*IdleRun `json:"runs"`
}

// IdleRun is the idle cost with one gateway mode.
type IdleRun struct {
	Name       string  `json:"name"`
	Push       bool    `json:"push"`
	Tracking   bool    `json:"client_tracking,omitempty"`
	Objects    int     `json:"objects"`
	Gateway    string  `json:"gateway"`
	ReadyS     float64 `json:"ready_with_hpas_s"`
	PushHealth string  `json:"push_health"`
	WindowS    float64 `json:"window_s"`
	// Commands the server processed in the window for others than the
	// bench (its INFO subtracted), and by command.
	Commands     int64          `json:"commands"`
	CommandsPerS float64        `json:"commands_per_s"`
	ByCommand    []commandCount `json:"by_command"`
	// Clients is connected_clients at the end of the window minus the
	// bench's own connection; Subscribers those of them in pub/sub mode.
	Clients       int64  `json:"connected_clients"`
	Subscribers   int64  `json:"subscriber_connections"`
	Subscriptions int64  `json:"channel_subscriptions"`
	ClientsDetail string `json:"clients_detail"`
	// Reads are the gateway's pushscale_broker_reads_total{source="redis"}
	// in the window, by reason.
	Reads map[string]float64 `json:"gateway_broker_reads"`
}

// The gateway modes of the idle measurement.
type idleMode int

const (
	idlePush     idleMode = iota // keyspace notifications
	idleTracking                 // notifications off: client tracking
	idlePoll                     // --disable-push
)

const (
	idlePushNamespace  = "bench-idle-push"
	idleTrackNamespace = "bench-idle-tracking"
	// idleSettle passes between every ScaledObject being Ready (and
	// PushHealthy as wanted) and the start of the window, so that reads
	// following the last SUBSCRIBE confirmations are over.
	idleSettle = 2 * time.Second
	// idlePolling is the ScaledObjects' pollingInterval: KEDA's default.
	idlePolling = 30 * time.Second
)

// redisIdleMethod is the method of measurement 5.
func redisIdleMethod(cfg config) string {
	return fmt.Sprintf(
		"%d Deployments at 0, each with a ScaledObject of KEDA's shape (type redis, address, listName: its own list, "+
			"listLength 1, pollingInterval %s, password through a TriggerAuthentication), every list empty, on one "+
			"dedicated redis-server (loopback, notify-keyspace-events KA; none for client tracking). Once all are Ready with their HPAs, "+
			"PushHealthy as stated and %s more have passed: CONFIG RESETSTAT, INFO (stats, commandstats, clients) at "+
			"the start and at the end of a %s window, over one connection the bench opened before. Commands = "+
			"total_commands_processed at the end minus at the start minus 1 (the bench's INFO at the start; "+
			"commandstats likewise, per command), counted as Redis counts them: the commands a script runs (the TYPE "+
			"and LLEN of KEDA's list script) count beside its EVALSHA. Connections = connected_clients at the end "+
			"minus the bench's one; "+
			"CLIENT LIST (after the window) tells subscriber connections from the others. One endpoint (one "+
			"address, one password). Push: the first gateway (all namespaces, default options), objects in %s; "+
			"client tracking: the same gateway, objects in %s; polling: the polling gateway of measurement 4 (watching %s only, DisablePush [%q]), objects in that "+
			"namespace after the series' are deleted. Each mode has its own server.",
		cfg.idleObjects, fmtSeconds(idlePolling), idleSettle, cfg.idleWindow, idlePushNamespace, idleTrackNamespace, redisPollNamespace, redisType)
}

// measureIdle measures the idle cost of cfg.idleObjects ScaledObjects on
// the push gateway (through keyspace notifications or client tracking) or
// the polling one. The namespace is deleted afterwards (without waiting).
func measureIdle(ctx context.Context, e *env, cfg config, mode idleMode) (*IdleRun, error) {
	var gw func(*gateway.Options) // nil: the first gateway
	ns, name, want, notify := idlePushNamespace, "push", metav1.ConditionTrue, notifyAll
	switch mode {
	case idleTracking:
		ns, name, notify = idleTrackNamespace, "push, client tracking", notifyNone
	case idlePoll:
		ns, name, gw, want = redisPollNamespace, "polling at "+fmtSeconds(idlePolling), pollingOn(redisPollNamespace), metav1.ConditionFalse
	}
	poll := mode == idlePoll
	run := &IdleRun{Name: name, Push: !poll, Tracking: mode == idleTracking, Objects: cfg.idleObjects, Gateway: gatewayMode(poll)}
	if err := e.useGateway(ctx, gw); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	srv, err := e.startRedis(ctx, ns, "redis-idle", notify)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	objs := names("idle", cfg.idleObjects)
	progress("redis idle, %s: %d ScaledObjects on %s", name, len(objs), srv.srv.Addr())
	if run.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(i int) soSpec {
		return srv.redisSpec(objs[i], idlePolling)
	}, scaleReadyTimeout); err != nil {
		return nil, err
	}
	progress("redis idle, %s: Ready with their HPAs in %.1f s", name, run.ReadyS)
	if run.PushHealth, err = e.waitPushHealth(ctx, ns, objs, want, time.Minute); err != nil {
		return nil, err
	}
	if err := sleep(ctx, idleSettle); err != nil {
		return nil, err
	}
	if err := e.idleWindow(ctx, srv, cfg.idleWindow, run); err != nil {
		return nil, err
	}
	progress("redis idle, %s: %.2f commands/s, %d connections", name, run.CommandsPerS, run.Clients)
	// Their HPAs would keep the controller manager busy for the rest of
	// the run.
	return run, e.deleteNamespace(ctx, ns, 0)
}

// idleWindow measures the server's commands and clients over window.
func (e *env) idleWindow(ctx context.Context, srv *redisServer, window time.Duration, run *IdleRun) error {
	// A client of its own with one connection, opened (with its handshake)
	// before the window: the only commands it sends in the window are the
	// two INFOs, and the first is counted in the second.
	o := srv.srv.Client().Options()
	client := redis.NewClient(&redis.Options{Addr: o.Addr, Password: o.Password, PoolSize: 1})
	defer client.Close()
	conn := client.Conn()
	defer conn.Close()
	self, err := conn.ClientID(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLIENT ID: %w", err)
	}
	if err := conn.ConfigResetStat(ctx).Err(); err != nil {
		return fmt.Errorf("CONFIG RESETSTAT: %w", err)
	}
	redisSource := map[string]string{"source": redisType}
	reads0, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", redisSource, "reason")
	if err != nil {
		return err
	}
	info := func() (redisInfo, time.Time, error) {
		reply, err := conn.Info(ctx, "stats", "commandstats", "clients").Result()
		at := time.Now()
		if err != nil {
			return redisInfo{}, at, fmt.Errorf("INFO: %w", err)
		}
		i, err := parseRedisInfo(reply)
		return i, at, err
	}
	before, start, err := info()
	if err != nil {
		return err
	}
	if err := sleep(ctx, window); err != nil {
		return err
	}
	after, end, err := info()
	if err != nil {
		return err
	}
	reads1, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", redisSource, "reason")
	if err != nil {
		return err
	}
	list, err := conn.ClientList(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLIENT LIST: %w", err)
	}
	clients, err := parseClientList(list)
	if err != nil {
		return err
	}

	run.WindowS = end.Sub(start).Seconds()
	run.Commands = after.TotalCommands - before.TotalCommands - 1
	run.CommandsPerS = float64(run.Commands) / run.WindowS
	run.ByCommand = callsBetween(before, after, map[string]int64{"info": 1})
	run.Clients = after.Clients - 1
	run.Reads = counterDelta(reads0, reads1)
	var detail []string
	for _, c := range clients {
		if c.ID == self {
			continue
		}
		if strings.Contains(c.Flags, "P") {
			run.Subscribers++
			run.Subscriptions += c.Sub
		}
		detail = append(detail, fmt.Sprintf("flags=%s sub=%d last=%s", c.Flags, c.Sub, c.Cmd))
	}
	run.ClientsDetail = strings.Join(detail, "; ")
	return nil
}
