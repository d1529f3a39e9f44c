package bounce_test

import (
	"fmt"

	"github.com/mailbridge/mailbridge/pkg/bounce"
)

func ExampleClassify() {
	v := bounce.Classify(bounce.Input{
		Diagnostic:     "550-5.1.1 The email account that you tried to reach does not exist. (in reply to RCPT TO)",
		BounceCode:     "2",
		DeliveryStatus: "failed",
	})
	fmt.Println(v.Reason, v.Hard, v.SMTPCode, v.EnhancedStatus)

	// A block list hit is the sender's problem, even with a 5.1.1 code.
	v = bounce.Classify(bounce.Input{
		Diagnostic: "554 5.1.1 Client host [192.0.2.7] blocked using zen.spamhaus.org",
	})
	fmt.Println(v.Reason, v.Hard, v.SMTPCode, v.EnhancedStatus)
	// Output:
	// userunknown true 550 5.1.1
	// blocked false 554 5.1.1
}

func ExampleParseCodes() {
	reply, enhanced := bounce.ParseCodes("5.1.0 - Unknown address error 550-'5.2.2 <aiko@example.jp>... Mailbox Full'")
	fmt.Println(reply, enhanced)
	// Output: 550 5.2.2
}
