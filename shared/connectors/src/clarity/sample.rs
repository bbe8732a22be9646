//! A valid Clarity order document (the assumed contract's wire shape), for tests.

use serde_json::{json, Value};

/// A one-line order of 27.00 USD paid with a transient token, in `status`, created and last
/// updated at `at` (RFC 3339).
pub fn order_json(id: &str, status: &str, at: &str) -> Value {
    json!({
        "id": id, "orderNumber": "100001", "status": status, "currency": "USD",
        "customer": {"id": "CUST-1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
        "billingAddress": {"firstName": "Ada", "lastName": "Lovelace", "line1": "1 Main St", "city": "Austin",
                           "region": "TX", "postalCode": "78701", "countryCode": "US"},
        "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Mug", "quantity": 2, "unitPrice": "12.50",
                       "discountTotal": "0.00", "taxTotal": "2.00", "lineTotal": "27.00"}],
        "totals": {"subtotal": "25.00", "discountTotal": "0.00", "shippingTotal": "0.00", "taxTotal": "2.00",
                   "grandTotal": "27.00"},
        "payment": {"processor": "cybersource", "status": "none",
                    "instrumentToken": "eyJraWQiOiJ0ZXN0In0.eyJqdGkiOiIxIn0.c2ln"},
        "createdAt": at, "updatedAt": at, "version": 1
    })
}
