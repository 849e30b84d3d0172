package rabbitmq

import (
	"fmt"
	"os"
	"testing"

	"github.com/pushscale/pushscale/sources/rabbitmq/rabbitmqtest"
)

// srv is the package's shared broker (starting one takes seconds); tests
// that restart a broker start their own.
var srv *rabbitmqtest.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rabbitmq-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err = rabbitmqtest.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	return m.Run()
}
