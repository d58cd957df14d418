DROP TABLE surveys;
DROP TABLE survey_settings;
