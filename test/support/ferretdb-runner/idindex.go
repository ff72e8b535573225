package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go driver FerretDB uses
)

// FerretDB v1.24's SQLite backend creates the _id index on the expression
// `_ferretdb_sjson->"_id"` but filters by `_ferretdb_sjson->'$._id'`, so SQLite never uses
// the index and every {_id: …} lookup scans the whole table. Tests would then slow down with
// every document they add. This loop adds an index on the expression the queries use, for
// every collection table, shortly after FerretDB creates it. Test server only.
func indexIDColumns(ctx context.Context, dir string, logger *slog.Logger) {
	done := map[string]bool{}
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file, done); err != nil {
				logger.Debug("id index pass failed", "file", file, "err", err)
			}
		}
	}
}

func indexFile(ctx context.Context, file string, done map[string]bool) error {
	dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if rows.Scan(&t) == nil {
			tables = append(tables, t)
		}
	}
	rows.Close()
	for _, table := range tables {
		key := file + "\x00" + table
		if done[key] {
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"__id_lookup", table)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
		done[key] = true
	}
	return nil
}

// sqliteDir turns "file:/some/dir/?mode=…" into "/some/dir".
func sqliteDir(sqliteURL string) string {
	u, err := url.Parse(sqliteURL)
	if err != nil {
		return strings.TrimPrefix(sqliteURL, "file:")
	}
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Path
}
