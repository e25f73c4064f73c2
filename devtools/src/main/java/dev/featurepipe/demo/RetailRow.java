package dev.featurepipe.demo;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** One line of the UCI Online Retail file, as text. */
@JsonPropertyOrder({"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"})
public record RetailRow(
        @JsonProperty("InvoiceNo") String invoiceNo,
        @JsonProperty("StockCode") String stockCode,
        @JsonProperty("Description") String description,
        @JsonProperty("Quantity") String quantity,
        @JsonProperty("InvoiceDate") String invoiceDate,
        @JsonProperty("UnitPrice") String unitPrice,
        @JsonProperty("CustomerID") String customerId,
        @JsonProperty("Country") String country) {
}
