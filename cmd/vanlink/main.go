// Command vanlink links a hub-and-spoke Kubernetes fleet into one Skupper
// network: it reads the hub AccessGrant and pushes AccessTokens to spokes.
// The command line lives in internal/cli; only this main exits the process.
package main

import (
	"os"

	"github.com/vanlink/vanlink/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdStreams(), os.Exit))
}
