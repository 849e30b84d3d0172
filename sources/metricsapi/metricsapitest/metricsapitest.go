// Package metricsapitest is a JSON metrics endpoint for tests: it answers
// {"queue":{"pending":<value>}} after checking an API key, basic
// credentials or a bearer token when the test asks for them.
package metricsapitest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// API answers any GET. It is safe for concurrent use.
type API struct {
	// APIKey, when set, must be in the X-API-KEY header.
	APIKey string
	// Bearer, when set, is the token every request must carry.
	Bearer string
	// User and Password, when User is set, are the basic credentials
	// every request must carry.
	User, Password string

	mu       sync.Mutex
	value    float64
	reads    int
	refusals int
}

// Set makes every answer's queue.pending v.
func (a *API) Set(v float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.value = v
}

// Reads counts the answered requests; Refusals those refused.
func (a *API) Reads() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reads
}

// Refusals counts the requests refused for their credentials.
func (a *API) Refusals() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusals
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, basic := r.BasicAuth()
	a.mu.Lock()
	defer a.mu.Unlock()
	if (a.APIKey != "" && r.Header.Get("X-API-KEY") != a.APIKey) ||
		(a.Bearer != "" && r.Header.Get("Authorization") != "Bearer "+a.Bearer) ||
		(a.User != "" && (!basic || user != a.User || pass != a.Password)) {
		a.refusals++
		w.WriteHeader(http.StatusForbidden)
		return
	}
	a.reads++
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"queue":{"name":"orders","pending":%s}}`, strconv.FormatFloat(a.value, 'f', -1, 64))
}
