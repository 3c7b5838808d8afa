//go:build images

package kind_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/kind"
)

// The image tier (build tag images, make test-images): this test compiles
// two static binaries, so it stays out of the unit tier.

// The demo's images build offline from this checkout, for the host's nodes.
func TestBuildImages(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	im, err := kind.BuildImages(root, dir, "test")
	require.NoError(t, err)
	require.Equal(t, "ghcr.io/vanlink/vanlink:test", im.Vanlink())
	require.Equal(t, "ghcr.io/vanlink/vanlink-echo:test", im.Echo)
	require.Len(t, im.Archives, 2)
	for _, a := range im.Archives {
		fi, err := os.Stat(a)
		require.NoError(t, err)
		require.Greater(t, fi.Size(), int64(1<<20), "%s holds a binary", a)
	}
}
