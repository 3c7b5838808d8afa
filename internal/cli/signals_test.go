package cli

import (
	"bytes"
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is written by the signal handler and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTheFirstSignalCancelsAndASecondExitsAtOnce(t *testing.T) {
	var errOut lockedBuffer
	exited := make(chan int, 1)
	ctx, stop := notifySignals(context.Background(), &errOut, func(code int) { exited <- code })
	defer stop()

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGTERM must cancel the command's context")
	}
	sig := stoppedBy(ctx)
	require.NotNil(t, sig, "the context's cause names the signal")
	require.Equal(t, syscall.SIGTERM, sig.Signal)
	require.Equal(t, 143, sig.ExitCode())
	require.Contains(t, errOut.String(), "SIGTERM received: stopping")
	select {
	case <-exited:
		t.Fatal("the first signal leaves the command time to clean up")
	case <-time.After(100 * time.Millisecond):
	}

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	select {
	case code := <-exited:
		require.Equal(t, 143, code, "the exit code is the first signal's")
	case <-time.After(5 * time.Second):
		t.Fatal("a second signal must exit at once")
	}
	require.Contains(t, errOut.String(), "received again: exiting at once")
}

func TestACommandNotStoppedBySignalHasNoSignalCause(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Nil(t, stoppedBy(ctx))
}
