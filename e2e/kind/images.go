package kind

import (
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/vanlink/vanlink/internal/ociimage"
)

// Images are the two images the kind tier and demo load into every node,
// built without Docker from this checkout.
type Images struct {
	// Repository and Tag name the vanlink image, as the hub chart's
	// sync.image values do.
	Repository, Tag string
	// Echo is the demo workload's image reference.
	Echo string
	// Archives are the OCI archives to load.
	Archives []string
}

// Vanlink is the vanlink image reference.
func (i Images) Vanlink() string { return i.Repository + ":" + i.Tag }

// BuildImages builds the vanlink and echo images from the checkout at root
// into dir, for the host's architecture (kind nodes run on the host).
func BuildImages(root, dir, tag string) (Images, error) {
	im := Images{Repository: "ghcr.io/vanlink/vanlink", Tag: tag, Echo: "ghcr.io/vanlink/vanlink-echo:" + tag}
	created := time.Unix(0, 0).UTC()
	for _, b := range []struct{ pkg, ref, name, title, desc string }{
		{"./cmd/vanlink", im.Vanlink(), "vanlink", "vanlink", ""},
		{"./e2e/kind/echo", im.Echo, "echo", "vanlink-echo", "The kind demo's HTTP hello server and client"},
	} {
		out := filepath.Join(dir, b.name+"-image.tar")
		if _, err := ociimage.Build(root, b.pkg, b.ref, out, ociimage.Options{Name: b.name, Title: b.title, Description: b.desc, Version: tag, Arch: runtime.GOARCH, Created: created}); err != nil {
			return Images{}, fmt.Errorf("building image %s: %w", b.ref, err)
		}
		im.Archives = append(im.Archives, out)
	}
	return im, nil
}
