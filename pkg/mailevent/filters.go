package mailevent

// Events returns the filters of every CMC record subject: deliveries,
// bounces and blocks, without the rejected and dead-letter subjects.
func (s Subjects) Events() []string {
	return []string{s.Deliveries(), s.Bounces(), s.Blocks()}
}

// Failures returns the filters of the events that report a failure or a
// deferral: every bounce and the failed and deferred deliveries.
func (s Subjects) Failures() []string {
	return []string{s.Bounces(), s.Delivery(StatusFailed), s.Delivery(StatusDeferred)}
}

// DeadLetter returns the subject where the consumer kit puts the messages
// that the durable consumer named durable failed to handle.
func (s Subjects) DeadLetter(durable string) string {
	return s.Prefix + ".deadletter." + durable
}

// DeadLetters returns the filter of every dead-letter subject.
func (s Subjects) DeadLetters() string { return s.Prefix + ".deadletter.*" }
