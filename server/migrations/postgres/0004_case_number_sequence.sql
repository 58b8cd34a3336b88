-- Decision 47 (issue 14): case numbers from a sequence, so that submissions of different
-- citizens (keyed units) never wait for each other's commit to learn the day's last number.
-- Numbers stay `HS-YYMMDD-NNNNNN`, unique and increasing; the sequence starts above every
-- number already given (of any day), so it never meets one.
CREATE SEQUENCE IF NOT EXISTS case_number_seq AS BIGINT MINVALUE 1;
SELECT setval(
    'case_number_seq',
    COALESCE((SELECT MAX(CAST(substr(case_number, 11) AS BIGINT)) FROM cases
               WHERE case_number ~ '^HS-[0-9]{6}-[0-9]+$'), 0) + 1,
    false
);
