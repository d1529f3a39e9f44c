package bounce

import "github.com/mailbridge/mailbridge/pkg/mailevent"

// EventClassification classifies a diagnostic for mailevent.Builder's
// Classify hook, so that every bounce, failed and deferred event carries
// the verdict in its data.
func EventClassification(diagnostic, bounceCode, deliveryStatus string) mailevent.Classification {
	v := Classify(Input{Diagnostic: diagnostic, BounceCode: bounceCode, DeliveryStatus: deliveryStatus})
	return mailevent.Classification{
		Reason:         string(v.Reason),
		Hard:           v.Hard,
		SMTPCode:       v.SMTPCode,
		EnhancedStatus: v.EnhancedStatus,
	}
}
