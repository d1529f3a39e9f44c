// Package alert watches the event stream for the rates that put a
// sender's reputation at risk, and notifies a person before a mail
// provider acts: hard bounces over all sends, failures at one recipient
// domain, deferrals, and silence when no webhook arrives.
//
// An Alerter is a JetStream consumer. It keeps sliding-window counts per
// server composition and per recipient domain, evaluates its rules
// against them, and keeps one state machine per rule and key (ok, warning,
// critical) in a JetStream KV bucket. Each transition becomes a CloudEvent
// on <prefix>.alerts.<rule> and goes to the configured notifiers: a
// Slack-compatible incoming webhook, a generic HTTP endpoint that receives
// the CloudEvent, and the log.
//
// On start the Alerter rebuilds its windows from the stream, so a restart
// neither forgets a spike nor sends a new alert for it. A transition is
// stored with its state before it is sent, and a process killed before
// every notifier was done with it sends it again on its next start, with
// the same CloudEvent id.
package alert
