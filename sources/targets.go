package sources

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
)

// A ClusterTriggerAuthentication is cluster-wide: a trigger in any
// namespace may reference it. KEDA then sends its credentials wherever the
// trigger's own metadata points, so any tenant could have the cluster's
// password sent to a host of its choosing. pushscale does not, by default:
// with a ClusterTriggerAuthentication's credentials, a connection target
// (a Field with Target) must come from the ClusterTriggerAuthentication's
// own parameters, or match one of the host:port patterns of its annotation
// AllowedTargetsAnnotation.

// AllowedTargetsAnnotation lists, comma-separated, the host:port patterns
// a ClusterTriggerAuthentication's credentials may be sent to when a
// trigger names its own target: "*" matches any characters, a pattern
// without a port any port ("redis.shared.svc:6379, *.kafka.svc").
const AllowedTargetsAnnotation = "pushscale.io/allowed-targets"

// TargetCheck is --cluster-trigger-auth-target-check.
type TargetCheck string

// The values of --cluster-trigger-auth-target-check.
const (
	// TargetCheckEnforce refuses a target the ClusterTriggerAuthentication
	// does not allow (the default).
	TargetCheckEnforce TargetCheck = "enforce"
	// TargetCheckWarn allows it, and says so through ClusterAuth.Warn.
	TargetCheckWarn TargetCheck = "warn"
	// TargetCheckOff is KEDA's behaviour: no check.
	TargetCheckOff TargetCheck = "off"
)

// ClusterAuth is what a trigger's Lookup needs to check the targets of a
// trigger whose credentials come from a ClusterTriggerAuthentication.
type ClusterAuth struct {
	// Name is the ClusterTriggerAuthentication's name.
	Name string
	// AllowedTargets are the patterns of its AllowedTargetsAnnotation.
	AllowedTargets []string
	// Check is enforce or warn (off: no ClusterAuth).
	Check TargetCheck
	// Warn receives, in warn mode, what enforce would have refused.
	Warn func(msg string)
}

// ParseAllowedTargets splits the annotation's value into patterns.
func ParseAllowedTargets(annotation string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(annotation, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		out = append(out, strings.ToLower(p))
	}
	return out
}

// checkTarget checks the value of target field name (see ClusterAuth).
func (l *Lookup) checkTarget(name, value string) error {
	ca := l.t.ClusterAuth
	if ca == nil || ca.Check == TargetCheckOff || ca.Check == "" || l.where[name] == FromAuth {
		return nil
	}
	for _, target := range targetsOf(value) {
		if allowed(ca.AllowedTargets, target) {
			continue
		}
		why := fmt.Sprintf("ClusterTriggerAuthentication %s's credentials go only to targets its parameters name or its annotation %s allows, and this one is neither (--cluster-trigger-auth-target-check)",
			ca.Name, AllowedTargetsAnnotation)
		if ca.Check == TargetCheckWarn {
			if ca.Warn != nil {
				ca.Warn(fmt.Sprintf("%s: %s: %s; allowed because the check is warn", l.source, name, why))
			}
			continue
		}
		// The target alone (host and port) is shown: a URL's user
		// information may hold a password.
		return l.InvalidValue(name, target, why)
	}
	return nil
}

// targetsOf returns the hosts (with their ports where given) a target
// field's value names: a comma- or space-separated list of host, host:port
// or URLs.
func targetsOf(value string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if strings.Contains(v, "://") {
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				v = u.Host
			}
		}
		out = append(out, strings.ToLower(v))
	}
	return out
}

// allowed reports whether target (host or host:port) matches a pattern.
func allowed(patterns []string, target string) bool {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		host, port = strings.Trim(target, "[]"), ""
	}
	for _, p := range patterns {
		ph, pp, err := net.SplitHostPort(p)
		if err != nil {
			ph, pp = strings.Trim(p, "[]"), ""
		}
		if ok, _ := path.Match(ph, host); !ok {
			continue
		}
		if pp == "" || port == "" {
			return true
		}
		if ok, _ := path.Match(pp, port); ok {
			return true
		}
	}
	return false
}
