// Command gobuild runs `go build` for one main package and shows progress
// while it runs: which binary it builds, the time so far and how many
// packages it has compiled, every -every (30 s by default). `make tools`
// builds kube-apiserver and etcd with it, whose first build takes many
// minutes and would otherwise print nothing.
//
//	go run ./hack/gobuild [-C dir] -o bin/etcd [-every 30s] [-note text] [-go go] go.etcd.io/etcd/server/v3
//
// Progress goes to stderr; go's own messages (downloads, compile errors) are
// passed through as they come.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var o options
	fs := flag.NewFlagSet("gobuild", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := o.Complete(fs.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "gobuild:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gobuild:", err)
		os.Exit(1)
	}
}

type options struct {
	// Dir is the module directory go runs in (-C).
	Dir string
	// Out is the binary to write (-o).
	Out string
	// Package is the main package to build.
	Package string
	// Every is the interval of the progress lines.
	Every time.Duration
	// Note is printed after the first line (e.g. how long a first build takes).
	Note string
	// Go is the go command.
	Go string
	// LDFlags are passed to go build -ldflags (e.g. -X version stamps).
	LDFlags string
}

func (o *options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "C", ".", "module directory to build in")
	fs.StringVar(&o.Out, "o", "", "binary to write (required)")
	fs.DurationVar(&o.Every, "every", 30*time.Second, "interval of the progress lines")
	fs.StringVar(&o.Go, "go", "go", "the go command")
	fs.StringVar(&o.Note, "note", "", "a line printed after the first one (e.g. how long a first build takes)")
	fs.StringVar(&o.LDFlags, "ldflags", "", "flags for the linker, passed to go build -ldflags")
}

// Complete takes the package from the arguments and validates the options.
func (o *options) Complete(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want exactly one package to build, got %d arguments", len(args))
	}
	o.Package = args[0]
	if o.Out == "" {
		return errors.New("-o is required")
	}
	if o.Every <= 0 {
		return fmt.Errorf("-every must be positive, got %s", o.Every)
	}
	return nil
}

// run builds o.Package into o.Out and writes progress to w.
func run(ctx context.Context, o options, w io.Writer) error {
	// go's stdout is copied into w from another goroutine.
	w = &syncWriter{w: w}
	name := filepath.Base(o.Out)
	start := time.Now()
	fmt.Fprintf(w, "building %s (%s) into %s\n", name, o.Package, o.Out)
	if o.Note != "" {
		fmt.Fprintf(w, "  %s\n", o.Note)
	}
	fmt.Fprintf(w, "  progress every %s; packages already in Go's build cache are not compiled again\n", o.Every)
	ticker := time.NewTicker(o.Every)
	defer ticker.Stop()

	// How many packages the binary needs; go list also downloads missing
	// modules, so the progress lines run during that phase too.
	var listOut bytes.Buffer
	total := 0
	err := watch(ctx, o.command(ctx, "list", "-deps", o.Package), &listOut, w, ticker.C, func() {
		fmt.Fprintf(w, "  %s: %s so far, resolving its packages and modules\n", name, since(start))
	}, nil)
	if err == nil {
		total = len(strings.Fields(listOut.String()))
	}

	compiled := 0
	build := []string{"build", "-v", "-o", o.Out}
	if o.LDFlags != "" {
		build = append(build, "-ldflags", o.LDFlags)
	}
	err = watch(ctx, o.command(ctx, append(build, o.Package)...), w, w, ticker.C, func() {
		fmt.Fprintf(w, "  %s: %s so far, %s\n", name, since(start), packages(compiled, total))
	}, func(line string) bool {
		if isPackageLine(line) {
			compiled++
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("building %s (%s) failed after %s: %w", name, o.Package, since(start), err)
	}
	fmt.Fprintf(w, "built %s in %s (%s)\n", name, since(start), packages(compiled, total))
	return nil
}

func (o options) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, o.Go, args...)
	cmd.Dir = o.Dir
	return cmd
}

// watch runs cmd with its stdout to out; every stderr line that progress
// does not consume goes to errOut as it comes, and tick is called on every
// tick until cmd ends.
func watch(ctx context.Context, cmd *exec.Cmd, out, errOut io.Writer, ticks <-chan time.Time, tick func(), progress func(line string) bool) error {
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := ctx.Done()
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return cmd.Wait()
			}
			if progress == nil || !progress(line) {
				fmt.Fprintln(errOut, line)
			}
		case <-ticks:
			tick()
		case <-done:
			// The command is killed by its context; drain its output.
			done = nil
		}
	}
}

// isPackageLine tells the package names `go build -v` prints (an import
// path: no blank, no colon) from everything else go says (downloads,
// "# pkg" headers and compile errors).
func isPackageLine(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:")
}

func packages(compiled, total int) string {
	if total == 0 {
		return fmt.Sprintf("%d packages compiled", compiled)
	}
	return fmt.Sprintf("%d of %d packages compiled", compiled, total)
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func since(start time.Time) string { return time.Since(start).Round(time.Second).String() }
