package dbtrace

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/headroom/headroom/lab/internal/pause"
)

// Delay returns a connector whose connections wait d before each round trip that a database
// across a network would cost: every statement executed (directly or prepared), every BEGIN,
// COMMIT and ROLLBACK, and every ping. It emulates the network for an embedded engine, whose
// calls are function calls: preparing a statement (a client caches it, as pgx does) and reading
// the rows of a result (they come with the answer) wait nothing.
//
// The waits are precise to about a tenth of a millisecond (see package pause: Go's own timers
// would make 0.5 ms cost 1.1 ms). A wait ends early, with the context's error and without the
// call, when the call's context ends. With d ≤ 0, Delay returns c itself.
func Delay(c driver.Connector, d time.Duration) driver.Connector {
	if d <= 0 {
		return c
	}
	return &delayConnector{Connector: c, d: d}
}

type delayConnector struct {
	driver.Connector
	d time.Duration
}

func (c *delayConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc, ok := conn.(ctxConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("dbtrace: delay: the driver's connection (%T) lacks the context-taking methods", conn)
	}
	return &delayConn{inner: cc, d: c.d}, nil
}

// ctxConn is what delayConn needs of a driver's connection: the forms that take a context.
type ctxConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// delayConn delegates to inner and waits before each round trip. database/sql calls the
// context-taking forms; the legacy ones driver.Conn requires go through them.
type delayConn struct {
	inner ctxConn
	d     time.Duration
}

var (
	_ driver.ConnBeginTx        = (*delayConn)(nil)
	_ driver.ConnPrepareContext = (*delayConn)(nil)
	_ driver.ExecerContext      = (*delayConn)(nil)
	_ driver.QueryerContext     = (*delayConn)(nil)
	_ driver.Pinger             = (*delayConn)(nil)
	_ driver.SessionResetter    = (*delayConn)(nil)
	_ driver.Validator          = (*delayConn)(nil)
	_ driver.StmtExecContext    = (*delayStmt)(nil)
	_ driver.StmtQueryContext   = (*delayStmt)(nil)
	_ driver.Tx                 = (*delayTx)(nil)
	_ driver.Connector          = (*delayConnector)(nil)
)

func (c *delayConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *delayConn) Close() error { return c.inner.Close() }

func (c *delayConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *delayConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := pause.For(ctx, c.d); err != nil {
		return nil, err
	}
	tx, err := c.inner.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &delayTx{inner: tx, ctx: ctx, d: c.d}, nil
}

func (c *delayConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs, ok := s.(ctxStmt)
	if !ok {
		_ = s.Close()
		return nil, fmt.Errorf("dbtrace: delay: the driver's statement (%T) lacks the context-taking methods", s)
	}
	return &delayStmt{inner: cs, d: c.d}, nil
}

func (c *delayConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := pause.For(ctx, c.d); err != nil {
		return nil, err
	}
	return c.inner.ExecContext(ctx, query, args)
}

func (c *delayConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := pause.For(ctx, c.d); err != nil {
		return nil, err
	}
	return c.inner.QueryContext(ctx, query, args)
}

func (c *delayConn) Ping(ctx context.Context) error {
	if err := pause.For(ctx, c.d); err != nil {
		return err
	}
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *delayConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *delayConn) IsValid() bool {
	v, ok := c.inner.(driver.Validator)
	return !ok || v.IsValid()
}

// delayStmt is a prepared statement whose executions wait.
type delayStmt struct {
	inner ctxStmt
	d     time.Duration
}

// ctxStmt is what delayStmt needs of a driver's statement: the forms that take a context.
type ctxStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (s *delayStmt) Close() error  { return s.inner.Close() }
func (s *delayStmt) NumInput() int { return s.inner.NumInput() }

func (s *delayStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *delayStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func (s *delayStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := pause.For(ctx, s.d); err != nil {
		return nil, err
	}
	return s.inner.ExecContext(ctx, args)
}

func (s *delayStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := pause.For(ctx, s.d); err != nil {
		return nil, err
	}
	return s.inner.QueryContext(ctx, args)
}

// delayTx waits before COMMIT and ROLLBACK. driver.Tx's methods take no context: the wait is
// bounded by the one BEGIN had, as database/sql bounds the transaction by it.
type delayTx struct {
	inner driver.Tx
	ctx   context.Context // the transaction's, see above
	d     time.Duration
}

// Commit waits, then commits. If the transaction's context ends during the wait, the commit
// never reached the server: the transaction is rolled back and the context's error returned.
func (t *delayTx) Commit() error {
	if err := pause.For(t.ctx, t.d); err != nil {
		return errors.Join(err, t.inner.Rollback())
	}
	return t.inner.Commit()
}

// Rollback waits, then rolls back; it rolls back even when the context ended, so the connection
// never returns to the pool inside a transaction.
func (t *delayTx) Rollback() error {
	_ = pause.For(t.ctx, t.d)
	return t.inner.Rollback()
}
