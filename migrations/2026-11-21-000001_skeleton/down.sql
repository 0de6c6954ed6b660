DROP TABLE email_addresses;
DROP TABLE phone_numbers;
DROP TABLE contact_methods;
DROP TABLE contacts;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE organization_settings;
DROP TABLE organizations;
