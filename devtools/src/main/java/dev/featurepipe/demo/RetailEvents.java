package dev.featurepipe.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.Map;

/**
 * Maps retail rows to events of the demo registry. A row is a {@code purchase}, or a {@code cancellation} when
 * its invoice starts with C. The event id is the invoice plus the row's line number within it (an invoice can
 * list the same item twice), so it is stable across replays. Money is quantity times unit price. Rows are passed
 * on as they are otherwise: a row without a customer or with an unreadable number reaches the API that way and
 * is rejected there by validation. InvoiceDate is read as UTC.
 */
public final class RetailEvents {
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd H:mm[:ss]");

    private final ObjectMapper json;
    private final Map<String, Integer> linesPerInvoice = new HashMap<>();

    public RetailEvents(ObjectMapper json) {
        this.json = json;
    }

    /** The row's time, epoch ms, or -1 when it cannot be read. */
    public static long time(RetailRow row) {
        try {
            return LocalDateTime.parse(row.invoiceDate().trim(), DATE).toInstant(ZoneOffset.UTC).toEpochMilli();
        } catch (DateTimeParseException | NullPointerException e) {
            return -1;
        }
    }

    /** @param shiftMs added to the row's time */
    public ObjectNode event(RetailRow row, long shiftMs) {
        String invoice = row.invoiceNo().trim();
        int line = linesPerInvoice.merge(invoice, 1, Integer::sum);
        ObjectNode e = json.createObjectNode();
        e.put("event_id", invoice + "-" + line);
        e.put("event_type", invoice.startsWith("C") ? "cancellation" : "purchase");
        long ts = time(row);
        if (ts >= 0) {
            e.put("ts", ts + shiftMs);
        } else {
            e.put("ts", row.invoiceDate());
        }
        String customer = row.customerId() == null ? "" : row.customerId().trim();
        if (!customer.isEmpty()) {
            e.put("customer_id", customer.endsWith(".0") ? customer.substring(0, customer.length() - 2) : customer);
        }
        e.put("invoice", invoice);
        e.put("stock_code", row.stockCode());
        if (row.description() != null && !row.description().isBlank()) {
            e.put("description", row.description().trim());
        }
        putNumbers(e, row);
        e.put("country", row.country());
        return e;
    }

    private static void putNumbers(ObjectNode e, RetailRow row) {
        try {
            long quantity = Long.parseLong(row.quantity().trim());
            double price = Double.parseDouble(row.unitPrice().trim());
            e.put("quantity", quantity);
            e.put("unit_price", price);
            e.put("amount", BigDecimal.valueOf(Math.round(quantity * price * 100), 2)); // in cents, exactly
        } catch (NumberFormatException | NullPointerException ex) {
            e.put("quantity", row.quantity());
            e.put("unit_price", row.unitPrice());
        }
    }
}
