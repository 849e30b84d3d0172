// Package promtest is a Prometheus query API for tests: it answers every
// instant query with one sample of a value the test sets, after checking
// a bearer token or basic credentials when the test asks for them.
package promtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// API answers GET /api/v1/query. It is safe for concurrent use.
type API struct {
	// Bearer, when set, is the token every request must carry.
	Bearer string
	// User and Password, when User is set, are the basic credentials every
	// request must carry.
	User, Password string

	mu       sync.Mutex
	value    string // "" answers an empty vector
	queries  []url.Values
	refusals int
}

// Set makes every answer the sample v.
func (a *API) Set(v float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.value = strconv.FormatFloat(v, 'f', -1, 64)
}

// SetEmpty makes every answer an empty vector.
func (a *API) SetEmpty() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.value = ""
}

// Queries returns the parameters of every query answered so far.
func (a *API) Queries() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]url.Values(nil), a.queries...)
}

// Refusals counts the requests refused for their credentials.
func (a *API) Refusals() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusals
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	user, pass, basic := r.BasicAuth()
	if (a.Bearer != "" && r.Header.Get("Authorization") != "Bearer "+a.Bearer) ||
		(a.User != "" && (!basic || user != a.User || pass != a.Password)) {
		a.mu.Lock()
		a.refusals++
		a.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	a.queries = append(a.queries, r.URL.Query())
	v := a.value
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if v == "" {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,%q]}]}}`, time.Now().Unix(), v)
}
