//go:build images

package main

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/e2e/framework"
)

// The image tier (build tag images, make test-images): it compiles a static
// vanlink, so it stays out of the unit tier. make test-images runs its
// packages one after the other, so the static build's packages are compiled
// once and the second package finds them in Go's build cache.

// TestImageArchive builds the image archive offline, as make image-archive
// does, for the host's architecture, and checks the OCI layout, the config
// and the binary inside.
func TestImageArchive(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	wd, _ := os.Getwd()
	require.NoError(t, os.Chdir(root))
	t.Cleanup(func() { _ = os.Chdir(wd) })
	out := filepath.Join(t.TempDir(), "vanlink.tar")
	require.NoError(t, run(out, "v0.9.0", "abc123", "ghcr.io/vanlink/vanlink", runtime.GOARCH))

	files := readTar(t, out)
	require.Contains(t, files, "oci-layout", "an OCI image layout")
	var index struct {
		Manifests []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	require.NoError(t, json.Unmarshal(files["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	require.Equal(t, "application/vnd.oci.image.manifest.v1+json", index.Manifests[0].MediaType)
	require.Equal(t, "ghcr.io/vanlink/vanlink:v0.9.0", index.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	var manifest struct {
		Config struct{ Digest string }   `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(blob(t, files, index.Manifests[0].Digest), &manifest))
	var config struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	}
	require.NoError(t, json.Unmarshal(blob(t, files, manifest.Config.Digest), &config))
	require.Equal(t, runtime.GOARCH, config.Architecture)
	require.Equal(t, "linux", config.OS)
	require.Equal(t, "65532:65532", config.Config.User, "the image runs as non-root")
	require.Equal(t, []string{"/vanlink"}, config.Config.Entrypoint)
	require.Equal(t, "v0.9.0", config.Config.Labels["org.opencontainers.image.version"])
	require.Equal(t, "https://github.com/vanlink/vanlink", config.Config.Labels["org.opencontainers.image.source"])
	require.Equal(t, "abc123", config.Config.Labels["org.opencontainers.image.revision"])

	require.Len(t, manifest.Layers, 1)
	layer := blob(t, files, manifest.Layers[0].Digest)
	bin := filepath.Join(t.TempDir(), "vanlink")
	found := false
	tr := tar.NewReader(gunzipIfNeeded(t, layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Name == "vanlink" {
			found = true
			require.EqualValues(t, 0o755, h.Mode&0o777, "the binary is executable")
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(bin, data, 0o755))
		}
	}
	require.True(t, found, "/vanlink is in the layer")
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "the binary is static (no dynamic loader), so it runs without libc")
	}
}
