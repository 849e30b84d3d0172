package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pushscale/pushscale/sources/clienttls"
)

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("answered %d %s", e.Code, http.StatusText(e.Code))
}

// Refused reports whether the peer refused the credentials (401, 403).
func (e *StatusError) Refused() bool {
	return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
}

// ErrTooLarge is an answer longer than the bound a source set.
var ErrTooLarge = errors.New("answer too large")

// NewClient returns a client whose every request, body included, ends
// within timeout, with the TLS configuration of p (clienttls; source
// prefixes its errors). Proxies are taken from the environment.
func NewClient(source string, timeout time.Duration, p clienttls.Params) (*http.Client, error) {
	cfg, err := clienttls.Config(source, p)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{Timeout: timeout, Transport: tr}, nil
}

// Get sends req with c and returns the answer's body when its status is
// 2xx and it is at most limit bytes long. Errors show where the request
// went as Safe does (no user, password or query, which may hold a key),
// never the request's headers.
func Get(ctx context.Context, c *http.Client, req *http.Request, limit int64) ([]byte, error) {
	where := Safe(req.URL)
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the whole URL
		}
		return nil, fmt.Errorf("GET %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("GET %s: %w", where, &StatusError{Code: resp.StatusCode})
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", where, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: %w (more than %d bytes)", where, ErrTooLarge, limit)
	}
	return b, nil
}

// Safe is u without user information, query or fragment: what an error
// or a log line may show of a URL.
func Safe(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}
