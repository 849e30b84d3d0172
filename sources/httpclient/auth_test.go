package httpclient

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func lookup(md, auth map[string]string) *sources.Lookup {
	return sources.NewLookup("test", sources.Trigger{Key: sourcetest.Key("so"), Metadata: md, AuthParams: auth})
}

var all = []Mode{ModeAPIKey, ModeBasic, ModeTLS, ModeBearer, ModeCustom}

// TestApply: each mode puts its credential where KEDA puts it.
func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		md, auth   map[string]string
		wantHeader map[string]string
		wantQuery  map[string]string
	}{
		{"none", nil, nil, map[string]string{"Authorization": ""}, nil},
		{"bearer", map[string]string{"authModes": "bearer"}, map[string]string{"bearerToken": "tok"}, map[string]string{"Authorization": "Bearer tok"}, nil},
		{"token alias", nil, map[string]string{"authModes": "bearer", "token": "tok2"}, map[string]string{"Authorization": "Bearer tok2"}, nil},
		{"basic", map[string]string{"authMode": "basic"}, map[string]string{"username": "u", "password": "p"}, map[string]string{"Authorization": "Basic dTpw"}, nil},
		{"custom", map[string]string{"authModes": "custom"}, map[string]string{"customAuthHeader": "X-Token", "customAuthValue": "v"}, map[string]string{"X-Token": "v"}, nil},
		{"apiKey header default", map[string]string{"authModes": "apiKey"}, map[string]string{"apiKey": "k"}, map[string]string{"X-API-KEY": "k"}, nil},
		{"apiKey header named", map[string]string{"authModes": "apiKey", "keyParamName": "X-Key"}, map[string]string{"apiKey": "k"}, map[string]string{"X-Key": "k"}, nil},
		{"apiKey query default", map[string]string{"authModes": "apiKey", "method": "query"}, map[string]string{"apiKey": "k"}, nil, map[string]string{"api_key": "k", "a": "1"}},
		{"apiKey query named", map[string]string{"authModes": "apiKey"}, map[string]string{"apiKey": "k", "method": "query", "keyParamName": "key"}, nil, map[string]string{"key": "k", "a": "1"}},
		{"tls adds no header", map[string]string{"authModes": "tls"}, map[string]string{"cert": "c", "key": "k"}, map[string]string{"Authorization": ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAuth(lookup(tc.md, tc.auth), all...)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://h/p?a=1", nil)
			a.Apply(req)
			for k, v := range tc.wantHeader {
				if got := req.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for k, v := range tc.wantQuery {
				if got := req.URL.Query().Get(k); got != v {
					t.Errorf("query %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestParseAuthErrors: errors name the parameter and never a credential.
func TestParseAuthErrors(t *testing.T) {
	const secret = "s3cret-value"
	tests := []struct {
		name     string
		md, auth map[string]string
		allowed  []Mode
		want     string
	}{
		{"mode not allowed", map[string]string{"authModes": "oauth"}, nil, all, `test: authModes "oauth": must be a comma separated list of apiKey, basic, tls, bearer, custom`},
		{"bearer and basic", map[string]string{"authModes": "bearer, basic"}, map[string]string{"bearerToken": secret, "username": "u"}, all, "test: authModes: bearer and basic cannot be used together"},
		{"custom header with a space", map[string]string{"authModes": "custom"}, map[string]string{"customAuthHeader": "X " + secret, "customAuthValue": secret}, all, "test: customAuthHeader (from TriggerAuthentication): not a valid HTTP header name"},
		{"apiKey keyParamName with a colon", map[string]string{"authModes": "apiKey", "keyParamName": "X:Key"}, map[string]string{"apiKey": secret}, all, `test: keyParamName "X:Key": not a valid HTTP header name`},
		{"tls without cert", map[string]string{"authModes": "tls"}, map[string]string{"key": secret}, all, "test: cert (from TriggerAuthentication): required with authModes tls"},
		{"only the allowed modes", map[string]string{"authModes": "custom"}, map[string]string{"customAuthHeader": "X", "customAuthValue": secret}, []Mode{ModeBearer}, `test: authModes "custom": must be a comma separated list of bearer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAuth(lookup(tc.md, tc.auth), tc.allowed...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParseAuth = %v, want %s", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

// TestAuthNeverPrinted: String, GoString and Params name the modes and
// parameters only.
func TestAuthNeverPrinted(t *testing.T) {
	a, err := ParseAuth(lookup(map[string]string{"authModes": "basic,tls"}, map[string]string{"username": "u-s3cret", "password": "p-s3cret", "cert": "c-s3cret", "key": "k-s3cret"}), all...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{a.String(), a.GoString(), a.Params()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("shows a credential: %s", s)
		}
	}
	if a.String() != "basic+tls" || a.Params() != "username and password, cert and key" {
		t.Errorf("String %q Params %q", a.String(), a.Params())
	}
}
