// Command echo is the demo workload of the kind demo: a tiny HTTP server on a
// spoke ("serve") and the client that calls it from the hub through its
// Skupper Listener ("get"). It ships as its own small image, built without
// Docker like vanlink's, so the demo pulls nothing but kind and Skupper.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		listen := fs.String("listen", ":8080", "address to listen on")
		message := fs.String("message", "hello", "what every request is answered with")
		_ = fs.Parse(os.Args[2:])
		err = serve(ctx, *listen, *message)
	case "get":
		fs := flag.NewFlagSet("get", flag.ExitOnError)
		url := fs.String("url", "", "URL to get (required)")
		expect := fs.String("expect", "", "text the answer must contain")
		timeout := fs.Duration("timeout", 3*time.Minute, "how long to retry until the answer comes")
		_ = fs.Parse(os.Args[2:])
		err = get(ctx, *url, *expect, *timeout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: echo serve [--listen :8080] [--message text] | echo get --url URL [--expect text] [--timeout 3m]")
	os.Exit(2)
}

// serve answers every request with message and the serving pod's name.
func serve(ctx context.Context, listen, message string) error {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		slog.Info("request", "from", r.RemoteAddr, "path", r.URL.Path)
		fmt.Fprintf(w, "%s (pod %s)\n", message, host)
	})
	srv := &http.Server{Addr: listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	slog.Info("serving", "listen", listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// get retries a GET until it answers with expect, or the timeout passes.
func get(ctx context.Context, url, expect string, timeout time.Duration) error {
	if url == "" {
		return errors.New("--url is required")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var last error
	for attempt := 1; ; attempt++ {
		body, err := fetch(ctx, client, url)
		switch {
		case err != nil:
			last = err
		case !strings.Contains(body, expect):
			last = fmt.Errorf("answer %q does not contain %q", strings.TrimSpace(body), expect)
		default:
			fmt.Printf("GET %s (attempt %d): %s", url, attempt, body)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s within %s: %w", url, timeout, last)
		case <-time.After(2 * time.Second):
		}
	}
}

func fetch(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return string(body), nil
}
