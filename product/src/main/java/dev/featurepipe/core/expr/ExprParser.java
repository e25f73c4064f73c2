package dev.featurepipe.core.expr;

import dev.featurepipe.core.FieldType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Parses and type-checks an expression over an event's fields.
 *
 * <pre>
 * or      := and ('or' and)*
 * and     := not ('and' not)*
 * not     := 'not' not | compare
 * compare := sum [ ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') sum
 *                | 'is' ['not'] 'null' | ['not'] 'in' '(' literal (',' literal)* ')' ]
 * sum     := product (('+' | '-') product)*
 * product := unary (('*' | '/') unary)*
 * unary   := '-' unary | number | 'string' | true | false | field | '(' or ')'
 * </pre>
 */
public final class ExprParser {
    private final String text;
    private final Map<String, FieldType> fields;
    private final List<Token> tokens;
    private int pos;

    private record Token(String text, Kind kind, int column) {
        boolean is(String s) {
            return kind != Kind.STRING && text.equalsIgnoreCase(s);
        }
    }

    private enum Kind { NUMBER, STRING, WORD, SYMBOL, END }

    private ExprParser(String text, Map<String, FieldType> fields) {
        this.text = text;
        this.fields = fields;
        this.tokens = tokenize(text);
    }

    /**
     * @param fields the fields the expression may use, with their types
     * @throws ExprException saying what is wrong and where
     */
    public static Expr parse(String text, Map<String, FieldType> fields) {
        ExprParser p = new ExprParser(text, fields);
        Expr e = p.or();
        if (p.peek().kind() != Kind.END) {
            throw p.error("unexpected '" + p.peek().text() + "'", p.peek());
        }
        return e;
    }

    private Expr or() {
        Expr left = and();
        while (peek().is("or")) {
            Token op = next();
            left = new Expr.Logic("or", bool(left, op), bool(and(), op));
        }
        return left;
    }

    private Expr and() {
        Expr left = not();
        while (peek().is("and")) {
            Token op = next();
            left = new Expr.Logic("and", bool(left, op), bool(not(), op));
        }
        return left;
    }

    private Expr not() {
        if (peek().is("not")) {
            Token op = next();
            return new Expr.Not(bool(not(), op));
        }
        return compare();
    }

    private Expr compare() {
        Expr left = sum();
        Token t = peek();
        if (t.kind() == Kind.SYMBOL && List.of("=", "!=", "<>", "<", "<=", ">", ">=").contains(t.text())) {
            next();
            Expr right = sum();
            requireComparable(left, right, t);
            return new Expr.Compare(t.text().equals("<>") ? "!=" : t.text(), left, right);
        }
        if (t.is("is")) {
            next();
            boolean negated = accept("not");
            expect("null");
            return new Expr.IsNull(left, negated);
        }
        if (t.is("not") || t.is("in")) {
            boolean negated = accept("not");
            Token in = expect("in");
            expect("(");
            List<Expr.Literal> values = new ArrayList<>();
            do {
                Expr v = unary();
                if (!(v instanceof Expr.Literal lit)) {
                    throw error("'in' takes a list of constants", in);
                }
                requireComparable(left, lit, in);
                values.add(lit);
            } while (accept(","));
            expect(")");
            return new Expr.In(left, values, negated);
        }
        return left;
    }

    private Expr sum() {
        Expr left = product();
        while (peek().is("+") || peek().is("-")) {
            Token op = next();
            left = arithmetic(op, left, product());
        }
        return left;
    }

    private Expr product() {
        Expr left = unary();
        while (peek().is("*") || peek().is("/")) {
            Token op = next();
            left = arithmetic(op, left, unary());
        }
        return left;
    }

    private Expr unary() {
        Token t = next();
        switch (t.kind()) {
            case NUMBER -> {
                return t.text().contains(".") || t.text().toLowerCase(Locale.ROOT).contains("e")
                        ? new Expr.Literal(Double.parseDouble(t.text()), FieldType.DOUBLE)
                        : new Expr.Literal(parseLong(t), FieldType.LONG);
            }
            case STRING -> {
                return new Expr.Literal(t.text(), FieldType.STRING);
            }
            case WORD -> {
                if (t.is("true") || t.is("false")) {
                    return new Expr.Literal(t.is("true"), FieldType.BOOLEAN);
                }
                if (t.is("null")) {
                    throw error("null can only be tested with 'is null' or 'is not null'", t);
                }
                FieldType type = fields.get(t.text());
                if (type == null) {
                    throw error("unknown field '" + t.text() + "' (fields: " + fields.keySet() + ")", t);
                }
                return new Expr.Field(t.text(), type);
            }
            case SYMBOL -> {
                if (t.is("-")) {
                    Expr operand = unary();
                    requireNumber(operand, t);
                    if (operand instanceof Expr.Literal lit) {
                        return lit.type() == FieldType.LONG ? new Expr.Literal(-(Long) lit.value(), FieldType.LONG)
                                : new Expr.Literal(-(Double) lit.value(), FieldType.DOUBLE);
                    }
                    return new Expr.Negate(operand, operand.type());
                }
                if (t.is("(")) {
                    Expr inner = or();
                    expect(")");
                    return inner;
                }
                throw error("unexpected '" + t.text() + "'", t);
            }
            default -> throw error("the expression ends too early", t);
        }
    }

    private Expr arithmetic(Token op, Expr left, Expr right) {
        requireNumber(left, op);
        requireNumber(right, op);
        // exact on whole numbers only: a decimal in arithmetic is computed as a double, as ClickHouse is told to
        FieldType type = !op.is("/") && left.type() == FieldType.LONG && right.type() == FieldType.LONG
                ? FieldType.LONG : FieldType.DOUBLE;
        return new Expr.Arithmetic(op.text().charAt(0), left, right, type);
    }

    private void requireNumber(Expr e, Token at) {
        if (!e.type().numeric()) {
            throw error("'" + at.text() + "' needs numbers, but " + describe(e) + " is " + e.type().registryName(), at);
        }
    }

    private void requireComparable(Expr left, Expr right, Token at) {
        boolean ok = left.type().numeric() ? right.type().numeric() : left.type() == right.type();
        if (!ok) {
            throw error("cannot compare " + describe(left) + " (" + left.type().registryName() + ") with "
                    + describe(right) + " (" + right.type().registryName() + ")", at);
        }
    }

    private Expr bool(Expr e, Token at) {
        if (e.type() != FieldType.BOOLEAN) {
            throw error("'" + at.text() + "' needs conditions, but " + describe(e) + " is " + e.type().registryName(), at);
        }
        return e;
    }

    private static String describe(Expr e) {
        return e instanceof Expr.Field f ? "'" + f.name() + "'" : e instanceof Expr.Literal l ? String.valueOf(l.value())
                : "the expression";
    }

    private long parseLong(Token t) {
        try {
            return Long.parseLong(t.text());
        } catch (NumberFormatException e) {
            throw error("number too large: " + t.text(), t);
        }
    }

    private Token peek() {
        return tokens.get(pos);
    }

    private Token next() {
        Token t = tokens.get(pos);
        if (t.kind() != Kind.END) {
            pos++;
        }
        return t;
    }

    private boolean accept(String s) {
        if (peek().is(s)) {
            pos++;
            return true;
        }
        return false;
    }

    private Token expect(String s) {
        Token t = next();
        if (!t.is(s)) {
            throw error("expected '" + s + "' but found " + (t.kind() == Kind.END ? "the end" : "'" + t.text() + "'"), t);
        }
        return t;
    }

    private ExprException error(String message, Token at) {
        return new ExprException(message + " in \"" + text + "\"", at.column());
    }

    private static List<Token> tokenize(String text) {
        List<Token> tokens = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            int start = i;
            if (Character.isWhitespace(c)) {
                i++;
            } else if (Character.isDigit(c) || (c == '.' && i + 1 < text.length() && Character.isDigit(text.charAt(i + 1)))) {
                while (i < text.length() && (Character.isDigit(text.charAt(i)) || text.charAt(i) == '.')) {
                    i++;
                }
                if (i < text.length() && (text.charAt(i) == 'e' || text.charAt(i) == 'E')) {
                    i++;
                    if (i < text.length() && (text.charAt(i) == '-' || text.charAt(i) == '+')) {
                        i++;
                    }
                    while (i < text.length() && Character.isDigit(text.charAt(i))) {
                        i++;
                    }
                }
                tokens.add(new Token(text.substring(start, i), Kind.NUMBER, start + 1));
            } else if (Character.isLetter(c) || c == '_') {
                while (i < text.length() && (Character.isLetterOrDigit(text.charAt(i)) || text.charAt(i) == '_')) {
                    i++;
                }
                tokens.add(new Token(text.substring(start, i), Kind.WORD, start + 1));
            } else if (c == '\'') {
                StringBuilder s = new StringBuilder();
                i++;
                while (true) {
                    if (i >= text.length()) {
                        throw new ExprException("the string starting here is not closed in \"" + text + "\"", start + 1);
                    }
                    if (text.charAt(i) == '\'') {
                        if (i + 1 < text.length() && text.charAt(i + 1) == '\'') {
                            s.append('\'');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    s.append(text.charAt(i++));
                }
                tokens.add(new Token(s.toString(), Kind.STRING, start + 1));
            } else {
                String two = i + 1 < text.length() ? text.substring(i, i + 2) : "";
                String symbol = List.of("!=", "<>", "<=", ">=").contains(two) ? two : String.valueOf(c);
                if ("+-*/()=<>,".indexOf(c) < 0 && symbol.length() == 1) {
                    throw new ExprException("unexpected character '" + c + "' in \"" + text + "\"", start + 1);
                }
                i += symbol.length();
                tokens.add(new Token(symbol, Kind.SYMBOL, start + 1));
            }
        }
        tokens.add(new Token("", Kind.END, text.length() + 1));
        return tokens;
    }
}
