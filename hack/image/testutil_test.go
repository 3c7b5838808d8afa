//go:build images

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readTar(t *testing.T, path string) map[string][]byte {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			out[h.Name] = data
		}
	}
}

func blob(t *testing.T, files map[string][]byte, digest string) []byte {
	data, ok := files["blobs/"+strings.Replace(digest, ":", "/", 1)]
	require.True(t, ok, "blob %s is in the archive", digest)
	return data
}

func gunzipIfNeeded(t *testing.T, data []byte) io.Reader {
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		r, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		return r
	}
	return bytes.NewReader(data)
}
