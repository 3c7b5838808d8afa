package framework

import (
	"fmt"
	"net"
	"sync"
)

// handedOut remembers every port given to a process of this test binary, so
// two servers of one run never get the same port even if the kernel would
// hand it out again after the probe listener closed.
var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// freePort asks the kernel for a free port on 127.0.0.1. The port is free when
// returned; a process that loses the race to bind it is restarted with a new
// one by the caller (see errAddrInUse).
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no unused free port on 127.0.0.1 after 20 tries")
}

// PortFree reports whether a TCP port on 127.0.0.1 can be bound now.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
