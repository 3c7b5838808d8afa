// Command vanlink links a hub-and-spoke Kubernetes fleet into one Skupper
// network: it reads the hub AccessGrant and pushes AccessTokens to spokes.
package main

import (
	"os"

	"github.com/vanlink/vanlink/pkg/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], cmd.StdStreams()))
}
