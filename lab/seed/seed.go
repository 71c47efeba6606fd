package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/headroom/headroom/lab"
)

// Config sizes the data set. The zero value means the defaults.
type Config struct {
	// Users is the number of users. Default 200.
	Users int
	// PostsPerUser is the number of posts each user wrote. Default 5.
	PostsPerUser int
	// CommentsPerPost is the average number of comments per post (the actual count varies from 0 to
	// twice this, so the feed has a clear ranking). Default 5.
	CommentsPerPost int
	// Seed makes the generator deterministic. Default 1.
	Seed uint64
	// BatchRows is the number of rows written per transaction. Default 5000.
	BatchRows int
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Users == 0 {
		c.Users = 200
	}
	if c.PostsPerUser == 0 {
		c.PostsPerUser = 5
	}
	if c.CommentsPerPost == 0 {
		c.CommentsPerPost = 5
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.BatchRows == 0 {
		c.BatchRows = 5000
	}
	return c
}

// Validate reports a negative or absurd size.
func (c Config) Validate() error {
	switch {
	case c.Users < 0:
		return fmt.Errorf("seed users %d: must be at least 1", c.Users)
	case c.PostsPerUser < 0:
		return fmt.Errorf("seed posts per user %d: must be at least 0", c.PostsPerUser)
	case c.CommentsPerPost < 0:
		return fmt.Errorf("seed comments per post %d: must be at least 0", c.CommentsPerPost)
	case c.BatchRows < 0:
		return fmt.Errorf("seed batch rows %d: must be positive", c.BatchRows)
	}
	return nil
}

// Epoch is the creation time of the first seeded row; row i is created i seconds later.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Words is the vocabulary of generated text. Searches for one of them find many posts; RareWord
// appears in about one post in a thousand.
var Words = strings.Fields(`latency throughput percentile queue cache index database query server
	request response client network backend scaling load capacity headroom bottleneck profile trace
	span metric replica shard pool worker thread memory disk cpu budget tail median average spike
	burst traffic user post comment feed search invite video payment account delete email log`)

// RareWord appears in about one post in a thousand: a selective search term, for which an index
// matters most (a scan must read about a thousand posts per result).
const RareWord = "flamegraph"

// Result reports what [Run] did.
type Result struct {
	Counts  lab.Counts `json:"counts"`
	Skipped bool       `json:"skipped"` // the store already had users; nothing was written
}

// Run writes the data set described by cfg into s, unless s already has users (a reused database
// file), in which case it only reports the existing counts.
func Run(ctx context.Context, s lab.Store, cfg Config) (Result, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	c, err := s.Counts(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	if c.Users > 0 {
		return Result{Counts: c, Skipped: true}, nil
	}
	g := newGen(cfg)
	var b lab.SeedBatch
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		if err := s.InsertBatch(ctx, b); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		b, rows = lab.SeedBatch{}, 0
		return nil
	}
	// Users first (all of them, so posts and comments can reference any user), then for each
	// post its comments: every batch references only rows already written or in the batch.
	for i := 1; i <= cfg.Users; i++ {
		b.Users = append(b.Users, g.user(int64(i)))
		if rows++; rows >= cfg.BatchRows {
			if err := flush(); err != nil {
				return Result{}, err
			}
		}
	}
	var commentID int64
	nposts := cfg.Users * cfg.PostsPerUser
	for i := 1; i <= nposts; i++ {
		p := g.post(int64(i))
		b.Posts = append(b.Posts, p)
		rows++
		for range g.rng.IntN(2*cfg.CommentsPerPost + 1) {
			commentID++
			b.Comments = append(b.Comments, g.comment(commentID, p))
			rows++
		}
		if rows >= cfg.BatchRows {
			if err := flush(); err != nil {
				return Result{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return Result{}, err
	}
	// Fresh statistics, so the planner knows how selective the indexes are from the first request.
	if a, ok := s.(analyzer); ok {
		if err := a.Analyze(ctx); err != nil {
			return Result{}, fmt.Errorf("seed: %w", err)
		}
	}
	c, err = s.Counts(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	return Result{Counts: c}, nil
}

// analyzer is implemented by stores that can refresh the query planner's statistics.
type analyzer interface {
	Analyze(ctx context.Context) error
}

type gen struct {
	cfg Config
	rng *rand.Rand
}

func newGen(cfg Config) *gen {
	return &gen{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

func (g *gen) words(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(Words[g.rng.IntN(len(Words))])
	}
	return sb.String()
}

func (g *gen) user(id int64) lab.User {
	return lab.User{ID: id, Name: fmt.Sprintf("user%d", id), Email: fmt.Sprintf("user%d@example.com", id),
		CreatedAt: Epoch.Add(time.Duration(id) * time.Second)}
}

func (g *gen) post(id int64) lab.Post {
	body := g.words(20 + g.rng.IntN(40))
	if g.rng.IntN(1000) == 0 {
		body += " " + RareWord
	}
	return lab.Post{
		ID: id, AuthorID: 1 + g.rng.Int64N(int64(g.cfg.Users)),
		Title: g.words(3 + g.rng.IntN(4)), Body: body,
		CreatedAt: Epoch.Add(time.Duration(id) * time.Minute),
	}
}

func (g *gen) comment(id int64, p lab.Post) lab.Comment {
	return lab.Comment{
		ID: id, PostID: p.ID, AuthorID: 1 + g.rng.Int64N(int64(g.cfg.Users)),
		Body: g.words(5 + g.rng.IntN(20)), CreatedAt: p.CreatedAt.Add(time.Duration(id%3600) * time.Second),
	}
}
