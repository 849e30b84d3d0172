package metricsapi

import (
	"flag"
	"net"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestAdapterOptions(t *testing.T) {
	srv, err := New(Options{Addr: "127.0.0.1:0", Kubeconfig: "/etc/pushscale/kubeconfig"}, fakeValues{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", srv.opts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := srv.adapter(ln)

	if a.FlagSet == pflag.CommandLine {
		t.Error("adapter flags are bound to pflag.CommandLine")
	}
	if pflag.CommandLine.HasFlags() {
		pflag.CommandLine.VisitAll(func(f *pflag.Flag) { t.Errorf("global pflag %q registered", f.Name) })
	}
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			t.Errorf("global flag %q registered", f.Name)
		}
	})

	for name, got := range map[string]string{
		"lister":         a.RemoteKubeConfigFile,
		"authentication": a.Authentication.RemoteKubeConfigFile,
		"authorization":  a.Authorization.RemoteKubeConfigFile,
	} {
		if got != "/etc/pushscale/kubeconfig" {
			t.Errorf("%s kubeconfig = %q, want the one of Options", name, got)
		}
	}
	if a.Authentication.SkipInClusterLookup || a.Authentication.TolerateInClusterLookupFailure {
		t.Error("front-proxy settings must be looked up, and failing to must be fatal")
	}
	serving := a.SecureServing
	if serving.Listener != ln || serving.BindPort != ln.Addr().(*net.TCPAddr).Port {
		t.Errorf("serving on %v:%d, want the listener %v", serving.BindAddress, serving.BindPort, ln.Addr())
	}
	if serving.ServerCert.CertDirectory != "" {
		t.Errorf("certificate directory %q: the self-signed certificate must stay in memory", serving.ServerCert.CertDirectory)
	}
}
