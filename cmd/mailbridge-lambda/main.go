// Command mailbridge-lambda runs the mailbridge webhook ingress as an AWS
// Lambda function behind a function URL with invoke mode RESPONSE_STREAM,
// publishing to the external NATS cluster at MAILBRIDGE_NATS_URL. It reads
// the same MAILBRIDGE_ variables as "mailbridge serve"; see
// deploy/lambda/README.md for the deployment.
package main

import (
	"context"
	"fmt"
	"os"
	_ "time/tzdata" // CMC_TIMEZONE must load on the provided.al2023 runtime too.

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/cmd/internal/function"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "mailbridge-lambda: %v\n", err)
		os.Exit(1)
	}
}

// run builds the handler once per instance, at its cold start, and serves
// invocations until the Lambda runtime stops the process.
func run() error {
	ctx := context.Background()
	var cfg function.Config
	if err := app.LoadConfig(&cfg); err != nil {
		return err
	}
	logger, err := app.NewLogger(cfg.LogConfig, os.Stderr)
	if err != nil {
		return err
	}
	tracingCfg, err := app.LoadTracingConfig()
	if err != nil {
		return err
	}
	tracerProvider, _, err := app.StartTracing(ctx, tracingCfg, "mailbridge-lambda", version, logger)
	if err != nil {
		return err
	}

	handler, err := function.New(ctx, cfg, logger, tracerProvider)
	if err != nil {
		return err
	}
	defer handler.Close()
	lambda.StartHandlerFunc(handler.Invoke)
	return nil
}
