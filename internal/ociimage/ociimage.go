// Package ociimage builds single-binary container images without Docker, as
// an OCI image layout in a tar file, loadable with `kind load image-archive`,
// `docker load` (Docker 25+), `podman load` or `skopeo copy oci-archive:...`.
//
// An image holds one static Go binary at /<name>, runs as the non-root user
// 65532, has no shell, and carries OCI labels with its version and source:
// the same image as the Dockerfile's for vanlink.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRoot is the user the image runs as.
const NonRoot = "65532:65532"

// Source is the project URL written into the images' labels.
const Source = "https://github.com/vanlink/vanlink"

// Options describe the image.
type Options struct {
	// Binary is the static binary to put at /<Name>.
	Binary string
	// Name of the binary in the image and of its entrypoint (default vanlink).
	Name string
	// Title and Description are the OCI labels of the same names.
	Title, Description string
	// Version and Revision end up in the OCI labels.
	Version, Revision string
	// Source is the project URL label.
	Source string
	// Arch is the platform architecture (e.g. amd64).
	Arch string
	// Created is the image creation time (fixed for reproducible builds).
	Created time.Time
	// Ref names the image in the layout index (e.g. ghcr.io/vanlink/vanlink:v0.1.0).
	Ref string
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = "vanlink"
	}
	if o.Title == "" {
		o.Title = o.Name
	}
	if o.Description == "" {
		o.Description = "Links a Kubernetes fleet into one Skupper network from the hub"
	}
	if o.Source == "" {
		o.Source = Source
	}
}

// Image builds the image in memory.
func Image(o Options) (v1.Image, error) {
	o.defaults()
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: o.Name, mode: 0o755, data: bin},
	}
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: o.Created, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if f.name == "home/nonroot/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "vanlink make image-archive", Created: v1.Time{Time: o.Created}}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = o.Arch, "linux", v1.Time{Time: o.Created}
	cf.Config.Entrypoint = []string{"/" + o.Name}
	cf.Config.User = NonRoot
	cf.Config.WorkingDir = "/home/nonroot"
	cf.Config.Env = []string{"HOME=/home/nonroot"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       o.Title,
		"org.opencontainers.image.description": o.Description,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes img as an OCI image layout packed in a tar file.
func WriteArchive(img v1.Image, ref, path string) error {
	dir, err := os.MkdirTemp("", "vanlink-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = time.Unix(0, 0), 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("packing the OCI layout: %w", err)
	}
	return tw.Close()
}

// StaticBinary builds the Go main package pkg (e.g. ./cmd/vanlink, relative
// to dir) as a static linux binary for arch, with version stamped in, into out.
func StaticBinary(dir, pkg, version, arch, out string) error {
	// No cgo, so the binary runs on an image without libc.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/vanlink/vanlink/pkg/version.Version="+version, "-o", out, pkg)
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	build.Stdout, build.Stderr = &stderr, &stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building a static %s: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// Build builds pkg statically and writes its image, named ref, as an OCI
// archive at out. o.Binary is filled in; o.Ref is set to ref.
func Build(dir, pkg, ref, out string, o Options) (v1.Image, error) {
	tmp, err := os.MkdirTemp("", "vanlink-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	o.defaults()
	o.Binary, o.Ref = filepath.Join(tmp, o.Name), ref
	if err := StaticBinary(dir, pkg, o.Version, o.Arch, o.Binary); err != nil {
		return nil, err
	}
	img, err := Image(o)
	if err != nil {
		return nil, err
	}
	return img, WriteArchive(img, ref, out)
}
