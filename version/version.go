// Package version says which build of pushscale is running.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is the release, stamped at build time with
// -ldflags "-X github.com/pushscale/pushscale/version.Version=v1.2.3"
// (the Dockerfile's VERSION build argument); "dev" otherwise.
var Version = "dev"

// Revision is the VCS revision the binary was built from, with "-dirty"
// when the tree had changes; "unknown" when the build recorded none.
func Revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// String is "pushscale <version> (<revision>, <go version>)".
func String() string {
	return "pushscale " + Version + " (" + Revision() + ", " + runtime.Version() + ")"
}
