// Package httpclient is the HTTP client side shared by the sources that
// poll an HTTP API (prometheus, metrics-api): KEDA's authModes with their
// TriggerAuthentication parameters, the client (TLS, a timeout on every
// request) and bounded reads of answers from peers that may be hostile.
//
// Credentials are unexported, never printed (Auth's String names the modes
// only) and never part of an error.
package httpclient

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
)

// Mode is one of KEDA's authModes.
type Mode string

// KEDA's authModes.
const (
	ModeAPIKey Mode = "apiKey"
	ModeBasic  Mode = "basic"
	ModeTLS    Mode = "tls"
	ModeBearer Mode = "bearer"
	ModeCustom Mode = "custom"
	ModeOAuth  Mode = "oauth"
)

// The fields of KEDA's authentication config (pkg/scalers/authentication):
// authModes from the metadata or the TriggerAuthentication, credentials
// from the TriggerAuthentication only, apiKey's settings from either.
var (
	fieldModes        = sources.Field[string]{Name: "authModes", Aliases: []string{"authMode"}, From: sources.Order{sources.FromMetadata, sources.FromAuth}}
	fieldBearer       = sources.Field[string]{Name: "bearerToken", Aliases: []string{"token"}, From: sources.AuthOnly}
	fieldUsername     = sources.Field[string]{Name: "username", From: sources.AuthOnly}
	fieldPassword     = sources.Field[string]{Name: "password", From: sources.AuthOnly}
	fieldCA           = sources.Field[string]{Name: "ca", From: sources.AuthOnly}
	fieldCert         = sources.Field[string]{Name: "cert", From: sources.AuthOnly}
	fieldKey          = sources.Field[string]{Name: "key", From: sources.AuthOnly}
	fieldKeyPassword  = sources.Field[string]{Name: "keyPassword", From: sources.AuthOnly}
	fieldCustomHeader = sources.Field[string]{Name: "customAuthHeader", From: sources.AuthOnly}
	fieldCustomValue  = sources.Field[string]{Name: "customAuthValue", From: sources.AuthOnly}
	fieldAPIKey       = sources.Field[string]{Name: "apiKey", From: sources.Order{sources.FromMetadata, sources.FromAuth}}
	fieldMethod       = sources.Field[string]{Name: "method", From: sources.Order{sources.FromMetadata, sources.FromAuth}, Default: "header", Parse: sources.OneOf("header", "query")}
	fieldKeyParamName = sources.Field[string]{Name: "keyParamName", From: sources.Order{sources.FromMetadata, sources.FromAuth}}
)

// Auth is a trigger's authentication: KEDA's authModes and what each
// needs. The zero value is no authentication.
type Auth struct {
	modes []Mode

	bearer             string
	username, password string
	customHeader       string
	customValue        string
	apiKey             string
	apiKeyInQuery      bool
	keyParamName       string
	tls                clienttls.Params
}

// ParseAuth reads authModes and the parameters of each mode from l,
// accepting only the modes in allowed; the other KEDA modes are refused
// naming the mode. Errors never show a credential.
func ParseAuth(l *sources.Lookup, allowed ...Mode) (Auth, error) {
	var a Auth
	raw, _ := fieldModes.Read(l)
	exclusive := 0
	for _, m := range strings.Split(raw, ",") {
		m := Mode(strings.TrimSpace(m))
		if m == "" || slices.Contains(a.modes, m) {
			continue
		}
		if !slices.Contains(allowed, m) {
			return Auth{}, l.InvalidValue(fieldModes.Name, string(m), "must be a comma separated list of "+join(allowed))
		}
		if m == ModeBearer || m == ModeBasic || m == ModeOAuth {
			exclusive++
		}
		a.modes = append(a.modes, m)
	}
	if exclusive > 1 {
		return Auth{}, l.Errorf("authModes: bearer and basic cannot be used together")
	}
	// The CA is used whenever given, as KEDA does, with or without tls.
	a.tls.CA, _ = fieldCA.Read(l)
	for _, m := range a.modes {
		if err := a.parseMode(l, m); err != nil {
			return Auth{}, err
		}
	}
	return a, nil
}

func (a *Auth) parseMode(l *sources.Lookup, m Mode) error {
	required := func(f sources.Field[string]) (string, error) {
		v, _ := f.Read(l)
		if v == "" {
			return "", l.Errorf("%s (from TriggerAuthentication): required with authModes %s", f.Name, m)
		}
		return v, nil
	}
	var err error
	switch m {
	case ModeBearer:
		a.bearer, err = required(fieldBearer)
	case ModeBasic:
		a.username, err = required(fieldUsername)
		a.password, _ = fieldPassword.Read(l)
	case ModeTLS:
		if a.tls.Cert, err = required(fieldCert); err == nil {
			a.tls.Key, err = required(fieldKey)
		}
		a.tls.KeyPassword, _ = fieldKeyPassword.Read(l)
	case ModeCustom:
		if a.customHeader, err = required(fieldCustomHeader); err == nil {
			a.customValue, err = required(fieldCustomValue)
		}
		if err == nil && !validHeaderName(a.customHeader) {
			return l.Errorf("customAuthHeader (from TriggerAuthentication): not a valid HTTP header name")
		}
	case ModeAPIKey:
		if a.apiKey, err = required(fieldAPIKey); err != nil {
			return err
		}
		var method string
		if method, err = fieldMethod.Read(l); err != nil {
			return err
		}
		a.apiKeyInQuery = method == "query"
		a.keyParamName, _ = fieldKeyParamName.Read(l)
		if !a.apiKeyInQuery && a.keyParamName != "" && !validHeaderName(a.keyParamName) {
			return l.Invalid(fieldKeyParamName.Name, "not a valid HTTP header name")
		}
	}
	return err
}

// Has reports whether mode m is on.
func (a Auth) Has(m Mode) bool { return slices.Contains(a.modes, m) }

// TLS returns the TLS parameters (ca, cert, key, keyPassword) with unsafe.
func (a Auth) TLS(unsafe bool) clienttls.Params {
	p := a.tls
	p.Unsafe = unsafe
	return p
}

// Apply adds the credentials of the header modes to req (bearer, basic,
// custom, apiKey). For apiKey with method query, the key goes into the
// URL's query (keyParamName, default api_key), as KEDA does.
func (a Auth) Apply(req *http.Request) {
	for _, m := range a.modes {
		switch m {
		case ModeBearer:
			req.Header.Set("Authorization", "Bearer "+a.bearer)
		case ModeBasic:
			req.SetBasicAuth(a.username, a.password)
		case ModeCustom:
			req.Header.Set(a.customHeader, a.customValue)
		case ModeAPIKey:
			name := a.keyParamName
			if a.apiKeyInQuery {
				if name == "" {
					name = "api_key"
				}
				q := req.URL.Query()
				q.Set(name, a.apiKey)
				req.URL.RawQuery = q.Encode()
				continue
			}
			if name == "" {
				name = "X-API-KEY"
			}
			req.Header.Set(name, a.apiKey)
		}
	}
}

// String names the modes, never a credential.
func (a Auth) String() string {
	if len(a.modes) == 0 {
		return "none"
	}
	out := make([]string, len(a.modes))
	for i, m := range a.modes {
		out[i] = string(m)
	}
	return strings.Join(out, "+")
}

// GoString is String, so that %#v does not print the credentials either.
func (a Auth) GoString() string { return a.String() }

// Secret is every credential, for a keyed hash in an endpoint id (see
// sources.Endpoints.Hash); never print it.
func (a Auth) Secret() string {
	return strings.Join([]string{a.String(), a.bearer, a.username, a.password, a.customHeader, a.customValue,
		a.apiKey, a.keyParamName, a.tls.CA, a.tls.Cert, a.tls.Key, a.tls.KeyPassword}, "\x00")
}

// Params names the TriggerAuthentication parameters of the modes, for an
// error saying which credentials were refused ("bearerToken").
func (a Auth) Params() string {
	var out []string
	for _, m := range a.modes {
		switch m {
		case ModeBearer:
			out = append(out, "bearerToken")
		case ModeBasic:
			out = append(out, "username and password")
		case ModeTLS:
			out = append(out, "cert and key")
		case ModeCustom:
			out = append(out, "customAuthHeader and customAuthValue")
		case ModeAPIKey:
			out = append(out, "apiKey")
		}
	}
	if len(out) == 0 {
		return "none given (authModes is empty)"
	}
	return strings.Join(out, ", ")
}

func join(modes []Mode) string {
	out := make([]string, len(modes))
	for i, m := range modes {
		out[i] = string(m)
	}
	return strings.Join(out, ", ")
}

// validHeaderName reports whether s is an HTTP header field name (a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
