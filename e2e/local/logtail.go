package local

import (
	"bytes"
	"strings"
	"sync"
)

// logTail keeps the last lines written to it: the doubles log there, and a
// failed scenario prints the tail beside the API servers' logs, so a
// redemption refused or a view that never refreshed shows in CI's output.
type logTail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func newLogTail(max int) *logTail { return &logTail{max: max} }

// Write stores complete lines; a trailing partial line waits for the rest.
func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	if over := len(l.lines) - l.max; over > 0 {
		l.lines = append(l.lines[:0:0], l.lines[over:]...)
	}
	return len(p), nil
}

// String returns the kept lines, oldest first.
func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
