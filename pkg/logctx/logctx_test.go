package logctx

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheContextCarriesTheLogger(t *testing.T) {
	var buf bytes.Buffer
	ctx := Into(context.Background(), slog.New(slog.NewTextHandler(&buf, nil)).With("grant", "ns/g"))
	From(ctx).Info("hello", "cluster", "east")
	require.Contains(t, buf.String(), "grant=ns/g")
	require.Contains(t, buf.String(), "cluster=east")
	require.NotPanics(t, func() { From(context.Background()).Info("discarded") }, "no logger: a discarding one")
}
