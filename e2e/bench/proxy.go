package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// countingProxy sits between vanlink and the hub API server on 127.0.0.1,
// authenticates to the hub as the admin, and counts every request by verb
// and resource.
type countingProxy struct {
	lis    net.Listener
	srv    *http.Server
	mu     sync.Mutex
	counts map[string]int
}

func newCountingProxy(target string, caPEM []byte, token string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}
	rp.FlushInterval = -1
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{lis: lis, counts: map[string]int{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		r.Header.Set("Authorization", "Bearer "+token)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(lis) }()
	return p, nil
}

func (p *countingProxy) URL() string { return "http://" + p.lis.Addr().String() }

func (p *countingProxy) Close() { _ = p.srv.Close() }

// reset returns the counts so far and starts again.
func (p *countingProxy) reset() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[string]int{}
	return c
}

func (p *countingProxy) count(r *http.Request) {
	verb, resource := classify(r)
	p.mu.Lock()
	p.counts[verb+" "+resource]++
	p.mu.Unlock()
}

// classify turns a request into a Kubernetes verb and resource, e.g.
// "list managedclusters", "create managedclusteractions", "watch managedclusterviews".
func classify(r *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(r.Method), "/" + strings.Join(parts, "/")
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return strings.ToLower(r.Method), "discovery"
	}
	resource = parts[0]
	named := len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(r.Method)
	}
	return verb, resource
}

// summarize renders counts as "verb resource=n" sorted, and totals.
func summarize(c map[string]int) (total, lists, gets, writes int, detail string) {
	keys := make([]string, 0, len(c))
	for k, n := range c {
		keys = append(keys, k)
		total += n
		switch strings.SplitN(k, " ", 2)[0] {
		case "list":
			lists += n
		case "get":
			gets += n
		case "create", "update", "patch", "delete":
			writes += n
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.Itoa(c[k]))
	}
	return total, lists, gets, writes, strings.Join(parts, ", ")
}
