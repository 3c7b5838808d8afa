// Package logctx carries a structured logger in a context, so the layers
// below the command (the engine, the transports) log through the logger the
// command configured, with the attributes of their caller (cluster=, grant=).
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// Into returns a context that carries log.
func Into(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, log)
}

// From returns the logger ctx carries, or one that discards everything.
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
