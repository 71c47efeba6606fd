package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures [New].
type Config struct {
	// URL is the server, e.g. redis://127.0.0.1:6379/0. Required.
	URL string
	// TTL is how long an entry lives after it is written. Default 2s.
	TTL time.Duration
	// KeyPrefix is prepended to every key. Default "headroom:lab:".
	KeyPrefix string
	// TracerProvider receives a client span per command. Default: no spans.
	TracerProvider trace.TracerProvider
}

// Cache is a cache on Redis. It is safe for concurrent use.
type Cache struct {
	c      *goredis.Client
	ttl    time.Duration
	prefix string
	tr     trace.Tracer
	addr   string
}

// New connects to cfg.URL and checks the server answers.
func New(ctx context.Context, cfg Config) (*Cache, error) {
	if cfg.URL == "" {
		return nil, errors.New("redis cache: empty URL")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 2 * time.Second
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("redis cache: TTL %v: must be positive", cfg.TTL)
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "headroom:lab:"
	}
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis cache: URL %q: %w", cfg.URL, err)
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	c := &Cache{c: goredis.NewClient(opt), ttl: cfg.TTL, prefix: cfg.KeyPrefix,
		tr: tp.Tracer("github.com/headroom/headroom/lab/cache/redis"), addr: opt.Addr}
	if err := c.c.Ping(ctx).Err(); err != nil {
		_ = c.c.Close()
		return nil, fmt.Errorf("redis cache: ping %s: %w", opt.Addr, err)
	}
	return c, nil
}

func (c *Cache) span(ctx context.Context, op, key string) (context.Context, trace.Span) {
	return c.tr.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "redis"), attribute.String("db.system", "redis"),
		attribute.String("db.operation.name", op), attribute.String("db.query.text", op+" "+c.prefix+key),
		attribute.String("server.address", c.addr)))
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Get returns the value stored under key, if any.
func (c *Cache) Get(ctx context.Context, key string) (_ []byte, _ bool, err error) {
	ctx, span := c.span(ctx, "GET", key)
	defer func() { end(span, err) }()
	v, err := c.c.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis cache: get %s: %w", key, err)
	}
	return v, true, nil
}

// Set stores val under key for the cache's TTL.
func (c *Cache) Set(ctx context.Context, key string, val []byte) (err error) {
	ctx, span := c.span(ctx, "SET", key)
	defer func() { end(span, err) }()
	if err := c.c.Set(ctx, c.prefix+key, val, c.ttl).Err(); err != nil {
		return fmt.Errorf("redis cache: set %s: %w", key, err)
	}
	return nil
}

// Delete removes key.
func (c *Cache) Delete(ctx context.Context, key string) (err error) {
	ctx, span := c.span(ctx, "DEL", key)
	defer func() { end(span, err) }()
	if err := c.c.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis cache: delete %s: %w", key, err)
	}
	return nil
}

// Close closes the connection pool.
func (c *Cache) Close() error { return c.c.Close() }
