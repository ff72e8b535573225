// Command ferretdb-runner embeds FerretDB (SQLite handler) as a MongoDB-protocol
// test server. It exists because `go install` of the FerretDB CLI builds a binary
// that panics on its missing version.txt (see shared mongo-compat.md §2.1); when the
// main module is ours, FerretDB's version check is skipped.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:0", "TCP address; port 0 picks a free port")
	sqliteURL := flag.String("sqlite-url", "file:./data/", "existing directory, must end with /")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatal(err)
	}

	done := make(chan struct{})
	go func() { _ = server.Run(ctx); close(done) }()
	if !strings.Contains(*sqliteURL, "mode=memory") {
		go indexIDColumns(ctx, sqliteDir(*sqliteURL), slog.Default())
	}
	fmt.Println("READY", server.MongoDBURI())
	<-done
}
