package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one child program of the test bed, with its output in a log file.
type process struct {
	name    string
	path    string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	exitEr error
}

// start launches the program in its own process group. The child is killed by
// the kernel if the test binary dies without running its cleanups.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "=== %s started %s\n", p.name, time.Now().Format(time.RFC3339))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		p.mu.Lock()
		p.exitEr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// pid returns the process id, or 0 when not running.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
		return p.cmd.Process.Pid
	}
}

// exited is closed when the process has ended; nil when never started.
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace
// period, and waits until the process is reaped.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// logTail returns the last n lines of the process log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logSinceStart returns what the process wrote since its last start: a
// program restarted appends to the same log, below a "=== NAME started" line.
func (p *process) logSinceStart() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	s := string(data)
	if i := strings.LastIndex(s, "=== "+p.name+" started "); i >= 0 {
		return s[i:]
	}
	return s
}

// errAddrInUse reports a start that failed because another program took the
// port between probing and binding.
var errAddrInUse = errors.New("address already in use")

// waitReady polls ready until it succeeds, the process exits, or ctx ends.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.exited():
			tail := p.logTail(30)
			if strings.Contains(tail, "address already in use") {
				return fmt.Errorf("%s: %w", p.name, errAddrInUse)
			}
			return fmt.Errorf("%s exited before it was ready; last lines of %s:\n%s", p.name, p.logPath, tail)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %v); last lines of %s:\n%s", p.name, ctx.Err(), last, p.logPath, p.logTail(30))
		case <-tick.C:
		}
	}
}
