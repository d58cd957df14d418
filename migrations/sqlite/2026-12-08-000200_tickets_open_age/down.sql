DROP INDEX tickets_open_age;
