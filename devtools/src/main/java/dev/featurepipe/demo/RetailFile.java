package dev.featurepipe.demo;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Reads the rows of a UCI Online Retail CSV file, gzipped or not. */
public final class RetailFile {
    private RetailFile() {
    }

    public static MappingIterator<RetailRow> open(Path file) throws IOException {
        InputStream in = Files.newInputStream(file);
        if (file.toString().endsWith(".gz")) {
            in = new GZIPInputStream(in, 1 << 16);
        }
        return new CsvMapper().readerFor(RetailRow.class).with(CsvSchema.emptySchema().withHeader()).readValues(in);
    }
}
