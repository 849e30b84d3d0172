package gateway

import (
	"net"
	"testing"
)

func TestAdvertisedAddress(t *testing.T) {
	any8080 := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41000}
	for _, tc := range []struct {
		name, flag, podIP string
		ln                net.Addr
		want              string
	}{
		{name: "the flag wins", flag: "10.0.0.9", podIP: "10.0.0.1", ln: any8080, want: "10.0.0.9:8080"},
		{name: "POD_IP", podIP: "10.0.0.1", ln: any8080, want: "10.0.0.1:8080"},
		{name: "IPv6 POD_IP", podIP: "fd00::1", ln: any8080, want: "[fd00::1]:8080"},
		{name: "the listener's own IP", ln: loop, want: "127.0.0.1:41000"},
		{name: "nothing known on a wildcard listener", ln: any8080, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := advertisedAddress(tc.flag, tc.podIP, tc.ln); got != tc.want {
				t.Fatalf("advertisedAddress = %q, want %q", got, tc.want)
			}
		})
	}
}
